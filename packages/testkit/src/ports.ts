import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';

/** A loopback port that was free a moment ago (nothing listens on it), from the kernel's ephemeral range. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The kernel's ephemeral range (where `listen(0)` and outgoing connections take ports). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo !== undefined && hi !== undefined && lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux: the IANA range
  }
  return [49152, 65535];
}

const PUBLISH_FLOOR = 20_000;

/**
 * A free loopback port for a container's published port, chosen **below** the kernel's
 * ephemeral range. An engine's port forwarding (CNI portmap, Docker's DNAT rules) can outlive
 * the process holding the port for a moment after a container dies; a port from the ephemeral
 * range could meanwhile be handed to another test's `listen(0)`, whose connections would then be
 * forwarded to a dead container (ECONNREFUSED in an unrelated test). Ports below the range are
 * never handed out by `listen(0)`.
 */
export async function publishPort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const ceiling = Math.max(PUBLISH_FLOOR + 1000, ephemeralLow);
  const span = ceiling - PUBLISH_FLOOR;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < 200; i += 1) {
    const port = PUBLISH_FLOOR + ((start + i * 7919) % span);
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port to publish between ${PUBLISH_FLOOR} and ${ceiling}`);
}
