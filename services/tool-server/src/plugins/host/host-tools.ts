import { spawn } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import { cpus, hostname, loadavg, release, uptime } from 'node:os';
import { z } from 'zod';
import { AppError, toolsFor } from '@datamancy/plugin-sdk';
import type { HostPluginConfig } from './config.ts';

const tool = toolsFor<HostPluginConfig>();

const PSEUDO_FS = new Set([
  'proc',
  'sysfs',
  'devpts',
  'devtmpfs',
  'cgroup',
  'cgroup2',
  'mqueue',
  'debugfs',
  'tracefs',
  'securityfs',
  'pstore',
  'bpf',
  'configfs',
  'fusectl',
  'hugetlbfs',
  'autofs',
  'binfmt_misc',
  'nsfs',
  'rpc_pipefs',
  'efivarfs',
  'ramfs',
]);

/** Mounted filesystems worth reporting: real ones, and tmpfs only where data lands. */
export function parseMounts(
  text: string,
): { device: string; mountpoint: string; fstype: string }[] {
  const seen = new Set<string>();
  const out: { device: string; mountpoint: string; fstype: string }[] = [];
  for (const line of text.split('\n')) {
    const [device, rawMount, fstype] = line.split(' ');
    if (
      device === undefined ||
      rawMount === undefined ||
      fstype === undefined ||
      PSEUDO_FS.has(fstype)
    )
      continue;
    const mountpoint = rawMount.replace(/\\040/g, ' ');
    if (
      /^\/(proc|sys|dev(?!\/shm))(\/|$)/.test(mountpoint) ||
      /\/(containers|docker)\/(storage|overlay)/.test(mountpoint)
    )
      continue;
    if (fstype === 'tmpfs' && !['/tmp', '/dev/shm', '/run'].includes(mountpoint)) continue;
    if (seen.has(mountpoint)) continue;
    seen.add(mountpoint);
    out.push({ device, mountpoint, fstype });
  }
  return out;
}

export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)(?: kB)?$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

export const hostInfo = tool({
  name: 'host_info',
  description:
    'Disk usage per mount, memory, load and uptime of the machine the control plane runs on, as structured data.',
  capabilities: ['host.shell.read'],
  input: z.object({}),
  async handler() {
    const mounts = parseMounts(await readFile('/proc/mounts', 'utf8'));
    const disks = [];
    for (const m of mounts) {
      try {
        const s = await statfs(m.mountpoint);
        const total = s.blocks * s.bsize;
        const free = s.bavail * s.bsize;
        disks.push({
          ...m,
          totalBytes: total,
          usedBytes: total - s.bfree * s.bsize,
          availableBytes: free,
          usedPercent:
            total > 0 ? Math.round(((total - s.bfree * s.bsize) / total) * 1000) / 10 : 0,
          inodesUsedPercent:
            s.files > 0 ? Math.round(((s.files - s.ffree) / s.files) * 1000) / 10 : 0,
        });
      } catch {
        // a mount that vanished or that we may not stat: leave it out rather than fail the report
      }
    }
    const mem = parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
    const [l1, l5, l15] = loadavg();
    return {
      hostname: hostname(),
      kernel: release(),
      uptimeS: Math.round(uptime()),
      cpus: cpus().length,
      load: { '1m': l1, '5m': l5, '15m': l15 },
      memory: {
        totalBytes: mem.MemTotal ?? 0,
        availableBytes: mem.MemAvailable ?? 0,
        usedBytes: (mem.MemTotal ?? 0) - (mem.MemAvailable ?? 0),
        swapTotalBytes: mem.SwapTotal ?? 0,
        swapFreeBytes: mem.SwapFree ?? 0,
      },
      disks,
    };
  },
});

interface ReadonlyCommand {
  bin: string;
  /** Every argument must be one of these exact strings. */
  allowed: readonly string[];
  defaults: readonly string[];
}

const PS_FIELDS = 'pid,ppid,user,pcpu,pmem,rss,etime,stat,comm';

/** The fixed set: commands that only read, and arguments that cannot write or print the environment. */
export const READONLY_COMMANDS: Record<string, ReadonlyCommand> = {
  df: {
    bin: 'df',
    allowed: ['-h', '-i', '-T', '-P', '-k', '-l', '-x', 'tmpfs', 'overlay'],
    defaults: ['-h'],
  },
  free: { bin: 'free', allowed: ['-b', '-k', '-m', '-g', '-h', '-w', '-t'], defaults: ['-m'] },
  uptime: { bin: 'uptime', allowed: ['-p', '-s'], defaults: [] },
  ps: {
    bin: 'ps',
    allowed: ['aux', '-ef', '-eo', PS_FIELDS, '--sort=-pcpu', '--sort=-rss', '--sort=-pmem'],
    defaults: ['-eo', PS_FIELDS, '--sort=-pcpu'],
  },
  ss: {
    bin: 'ss',
    allowed: [
      '-t',
      '-u',
      '-l',
      '-n',
      '-a',
      '-s',
      '-p',
      '-tln',
      '-tlnp',
      '-tuln',
      '-tulnp',
      '-tan',
      '-uan',
    ],
    defaults: ['-tuln'],
  },
  uname: { bin: 'uname', allowed: ['-a', '-r', '-m', '-n', '-s', '-v'], defaults: ['-a'] },
  nproc: { bin: 'nproc', allowed: [], defaults: [] },
};

export const hostExecReadonly = tool({
  name: 'host_exec_readonly',
  description: `Run one read-only command on the control plane's machine: ${Object.keys(READONLY_COMMANDS).join(', ')}. Arguments come from a fixed list per command; no shell.`,
  capabilities: ['host.shell.read'],
  timeoutMs: 20_000,
  input: z.object({
    command: z.enum(Object.keys(READONLY_COMMANDS) as [string, ...string[]]),
    args: z
      .array(z.string().max(128))
      .max(8)
      .optional()
      .describe("from the command's allowed list; default a sensible set"),
    max_bytes: z
      .number()
      .int()
      .min(256)
      .max(1024 * 1024)
      .default(64 * 1024),
  }),
  handler(ctx, args) {
    const spec = READONLY_COMMANDS[args.command] as ReadonlyCommand;
    const argv = args.args ?? [...spec.defaults];
    const bad = argv.filter((a) => !spec.allowed.includes(a));
    if (bad.length > 0) {
      throw new AppError(
        'INVALID_ARGUMENTS',
        `${args.command} does not take ${bad.join(' ')}; allowed: ${spec.allowed.join(' ') || '(none)'}`,
        {
          data: { issues: [{ path: 'args.args', message: `not allowed: ${bad.join(' ')}` }] },
        },
      );
    }
    return new Promise((resolve, reject) => {
      const child = spawn(spec.bin, argv, {
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: ctx.signal,
      });
      let out = '';
      let err = '';
      let truncated = false;
      const take = (into: 'out' | 'err') => (chunk: Buffer) => {
        const room = args.max_bytes - Buffer.byteLength(out) - Buffer.byteLength(err);
        if (room <= 0) {
          truncated = true;
          return;
        }
        const text = chunk.subarray(0, room).toString('utf8');
        if (chunk.length > room) truncated = true;
        if (into === 'out') out += text;
        else err += text;
      };
      child.stdout.on('data', take('out'));
      child.stderr.on('data', take('err'));
      child.once('error', (e: NodeJS.ErrnoException) => {
        if (e.name === 'AbortError') return; // the dispatcher already answered
        reject(new AppError('TOOL_FAILED', `cannot run ${spec.bin}: ${e.code ?? e.message}`));
      });
      child.once('close', (code) =>
        resolve({
          command: [spec.bin, ...argv],
          exitCode: code,
          stdout: out,
          stderr: err,
          truncated,
        }),
      );
    });
  },
});
