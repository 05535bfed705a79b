import { describe, expect, it } from 'vitest';
import {
  classifyExit,
  explainExit,
  mapEvent,
  parseEventTime,
  type ContainerEvent,
} from '../src/index.ts';

const T0 = Date.parse('2025-03-01T10:00:00.000Z');
const ID = 'a'.repeat(64);

/** A sequence of "action[:exit code|signal]" strings, 100 ms apart from `startMs`. */
function seq(steps: string[], startMs = T0, name = 'web', id = ID): ContainerEvent[] {
  return steps.map((step, i) => {
    const [action = '', extra] = step.split(':');
    return {
      time: new Date(startMs + i * 100).toISOString(),
      container: name,
      id,
      action,
      ...(action === 'die' && extra !== undefined ? { exitCode: Number(extra) } : {}),
      ...(action === 'kill' && extra !== undefined ? { signal: extra } : {}),
    };
  });
}
const at = (events: ContainerEvent[], action: string): string =>
  events.find((e) => e.action === action)?.time ?? '';

describe('classifyExit', () => {
  it("calls Docker's stop sequence (kill, die, stop) an operator stop", () => {
    const events = seq(['create', 'start', 'kill:15', 'die:0', 'stop']);
    expect(explainExit(events, 'web', { finishedAt: at(events, 'die') })).toMatchObject({
      classification: 'operator-stop',
      exitCode: 0,
      basis: expect.stringMatching(/^kill \(signal 15\) at .* before the die$/),
    });
  });

  it('calls a stop event after the die an operator stop', () => {
    const events = seq(['start', 'die:143', 'stop']);
    expect(classifyExit(events, 'web', { finishedAt: at(events, 'die') })).toBe('operator-stop');
  });

  it("calls Podman's stop without its stop event (die, two cleanups) an operator stop", () => {
    const events = seq(['create', 'init', 'start', 'die:137', 'cleanup', 'cleanup']);
    expect(explainExit(events, 'web', { finishedAt: at(events, 'die') })).toMatchObject({
      classification: 'operator-stop',
      basis: expect.stringContaining('two cleanup events'),
    });
  });

  it('calls a lone die a crash with its exit code, one cleanup included', () => {
    const events = seq(['create', 'init', 'start', 'die:1', 'cleanup']);
    expect(explainExit(events, 'web', { finishedAt: at(events, 'die') })).toMatchObject({
      classification: 'crash',
      exitCode: 1,
    });
  });

  it('does not take a reload signal for a stop', () => {
    const events = seq(['start', 'kill:SIGHUP', 'die:2']);
    expect(classifyExit(events, 'web', { finishedAt: at(events, 'die') })).toBe('crash');
  });

  it("does not carry an earlier run's stop over to a later crash", () => {
    const events = [
      ...seq(['start', 'kill:15', 'die:0', 'stop']),
      ...seq(['start', 'die:139'], T0 + 60_000),
    ];
    const lastDie = events[events.length - 1]?.time ?? '';
    expect(explainExit(events, 'web', { finishedAt: lastDie })).toMatchObject({
      classification: 'crash',
      exitCode: 139,
    });
    expect(classifyExit(events, 'web', { finishedAt: at(events, 'die') })).toBe('operator-stop');
  });

  it('ignores a kill long before the exit', () => {
    const events = [...seq(['start', 'kill']), ...seq(['die:1'], T0 + 3_600_000)];
    expect(classifyExit(events, 'web', { finishedAt: new Date(T0 + 3_600_000) })).toBe('crash');
  });

  it('calls an oom event or an OOMKilled inspect an oom', () => {
    const events = seq(['start', 'oom', 'die:137']);
    expect(classifyExit(events, 'web', { finishedAt: at(events, 'die') })).toBe('oom');
    const bare = seq(['start', 'die:137']);
    expect(classifyExit(bare, 'web', { finishedAt: at(bare, 'die'), oomKilled: true })).toBe('oom');
  });

  it('says unknown for a clean exit by itself, a missing die, or an exit too fresh to judge', () => {
    const clean = seq(['start', 'die:0', 'cleanup']);
    expect(explainExit(clean, 'web', { finishedAt: at(clean, 'die') })).toMatchObject({
      classification: 'unknown',
      basis: expect.stringContaining('exited 0 by itself'),
    });
    const crash = seq(['start', 'die:1']);
    expect(classifyExit(crash, 'web', { finishedAt: new Date(T0 + 3_600_000).toISOString() })).toBe(
      'unknown',
    );
    expect(classifyExit([], 'web')).toBe('unknown');
    expect(
      explainExit(crash, 'web', { finishedAt: at(crash, 'die'), eventsUntil: new Date(T0 + 600) }),
    ).toMatchObject({ classification: 'unknown', basis: expect.stringContaining('500 ms old') });
    expect(
      classifyExit(crash, 'web', {
        finishedAt: at(crash, 'die'),
        eventsUntil: new Date(T0 + 9000),
      }),
    ).toBe('crash');
  });

  it('matches the container by name, id or id prefix and ignores other containers', () => {
    const events = [
      ...seq(['start', 'die:1']),
      ...seq(['start', 'kill', 'die:137'], T0 + 50, 'db', 'b'.repeat(64)),
    ];
    const finishedAt = new Date(T0 + 100);
    expect(classifyExit(events, ID, { finishedAt })).toBe('crash');
    expect(classifyExit(events, ID.slice(0, 12), { finishedAt })).toBe('crash');
    expect(classifyExit(events, 'db', { finishedAt: new Date(T0 + 250) })).toBe('operator-stop');
  });
});

describe('mapEvent', () => {
  it("reads Docker's health, kill and die events", () => {
    // timeNano is beyond 2^53, as engines send it; JSON.parse rounds it as it does in use.
    const doc = (action: string, attributes: Record<string, string>) =>
      JSON.parse(
        `{"Type":"container","Action":"${action}","time":1740823200,"timeNano":1740823200123456789,` +
          `"Actor":{"ID":"${ID}","Attributes":${JSON.stringify({ name: 'web', ...attributes })}}}`,
      ) as Record<string, unknown>;
    expect(mapEvent(doc('health_status: unhealthy', {}))?.event).toMatchObject({
      action: 'health_status',
      health: 'unhealthy',
      time: '2025-03-01T10:00:00.123Z',
    });
    expect(mapEvent(doc('kill', { signal: '15' }))?.event).toMatchObject({ signal: '15' });
    expect(mapEvent(doc('die', { exitCode: '3' }))?.event).toEqual({
      time: '2025-03-01T10:00:00.123Z',
      container: 'web',
      id: ID,
      action: 'die',
      exitCode: 3,
    });
    expect(mapEvent({ ...doc('pull', {}), Type: 'image' })).toBeUndefined();
  });
});

describe('parseEventTime', () => {
  it('reads ISO times and spans back from now, and refuses anything else', () => {
    const now = T0;
    expect(parseEventTime('10m', now)).toBe(T0 - 600_000);
    expect(parseEventTime('1d', now)).toBe(T0 - 86_400_000);
    expect(parseEventTime('2025-03-01T10:00:00+01:00', now)).toBe(T0 - 3_600_000);
    expect(parseEventTime(new Date(T0), now)).toBe(T0);
    expect(() => parseEventTime('2025-03-01', now)).toThrow(/not a time/);
    expect(() => parseEventTime('-5m', now)).toThrow(/not a time/);
  });
});
