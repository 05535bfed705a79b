export { fakeEmbedding, startScriptedOpenAi } from './scripted-openai.ts';
export type { RecordedRequest, ScriptedOpenAi, ScriptStep } from './scripted-openai.ts';
export { startHttpFixture } from './http-fixture.ts';
export type { FixtureServer } from './http-fixture.ts';
export { BUSYBOX_IMAGE, CONTAINERS_CONF, startPodman } from './podman.ts';
export type { PodmanFixture } from './podman.ts';
export { freePort, startPostgres } from './postgres.ts';
export type { PostgresFixture } from './postgres.ts';
export { waitFor } from './wait.ts';
