import { spawnSync } from 'node:child_process';

/**
 * Removes the iptables NAT and filter rules CNI left behind for containers that are gone.
 *
 * Podman (4.3, CNI) normally removes a container's port forwarding when the container stops;
 * seen here, a few survive a test's teardown. A rule that outlives its container keeps
 * forwarding `127.0.0.1:<port>` to a dead address, so a later listener on that port (another
 * test's server) is refused. Only rules naming one of `ids` (containers this fixture removed)
 * are touched, never another fixture's. A missing iptables is no error: nothing to clean.
 */
export function removeCniLeftovers(ids: readonly string[]): number {
  if (ids.length === 0) return 0;
  let removed = 0;
  for (const table of ['nat', 'filter']) {
    const saved = spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' });
    if (saved.status !== 0) continue;
    const rules = saved.stdout.split('\n').filter((line) => line.startsWith('-A '));
    const doomed = rules.filter((line) => ids.some((id) => line.includes(`id: \\"${id}\\"`)));
    if (doomed.length === 0) continue;
    // Chains made for those containers (CNI-<hash>, CNI-DN-<hash>) go with their rules.
    const chains = new Set<string>();
    for (const line of doomed) {
      const target = / -j (CNI-(?:DN-)?[0-9a-f]{6,})(?: |$)/.exec(line)?.[1];
      if (target !== undefined) chains.add(target);
    }
    const script = [
      `*${table}`,
      ...doomed.map((line) => line.replace(/^-A /, '-D ')),
      ...[...chains].flatMap((chain) => [`-F ${chain}`, `-X ${chain}`]),
      'COMMIT',
      '',
    ].join('\n');
    const restored = spawnSync('iptables-restore', ['--noflush'], { input: script });
    if (restored.status === 0) removed += doomed.length;
  }
  return removed;
}
