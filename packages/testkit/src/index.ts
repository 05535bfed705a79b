export { fakeEmbedding, startScriptedOpenAi } from './scripted-openai.ts';
export type { RecordedRequest, ScriptedOpenAi, ScriptStep } from './scripted-openai.ts';
export { startHttpFixture } from './http-fixture.ts';
export type { FixtureServer } from './http-fixture.ts';
