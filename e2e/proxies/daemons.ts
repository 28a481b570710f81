/**
 * Real proxies from Debian, started on loopback for the proxy tests:
 * tinyproxy (HTTP CONNECT with Basic auth), squid (CONNECT on an
 * `http_port`, and an `https_port`: an HTTPS proxy) and microsocks (SOCKS5
 * with user name and password). scripts/setup.mjs installs them.
 *
 * Each proxy makes its outgoing connections from its own loopback address
 * (127.0.0.2 and up): a target that sees that address as its peer was
 * reached through that proxy, and not around it. tinyproxy and squid also
 * log each CONNECT, which the tests read.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TINYPROXY = '/usr/bin/tinyproxy';
export const SQUID = '/usr/sbin/squid';
export const MICROSOCKS = '/usr/bin/microsocks';

/** The source address each proxy connects from. */
export const OUTGOING = { socks: '127.0.0.2', squid: '127.0.0.3', tinyproxy: '127.0.0.4' } as const;

export interface Daemon {
  readonly name: string;
  readonly ports: readonly number[];
  /** What the proxy logged, for the tests that check it saw a tunnel. */
  log(): string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the daemon's start is retried if it was taken since). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Wait until every port accepts, or the process exits, or `timeoutMs` passes. */
async function ready(child: ChildProcess, ports: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let exited = child.exitCode !== null;
  child.once('exit', () => {
    exited = true;
  });
  while (!exited && Date.now() < deadline) {
    const up = await Promise.all(ports.map(accepts));
    if (up.every(Boolean)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

interface Start {
  readonly name: string;
  readonly portCount: number;
  /** Writes the configuration for `ports` into `dir`; returns the command line. */
  readonly prepare: (dir: string, ports: readonly number[]) => { command: string; args: string[] };
  readonly logFile?: string;
}

async function startDaemon(spec: Start, timeoutMs: number): Promise<Daemon> {
  let lastOutput = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), `polysocket-${spec.name}-`));
    // The daemons drop root for an unprivileged user, who writes the logs.
    chmodSync(dir, 0o777);
    const ports: number[] = [];
    for (let i = 0; i < spec.portCount; i++) ports.push(await freePort());
    const { command, args } = spec.prepare(dir, ports);
    const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', (error) => {
      output += String(error);
    });
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM lets squid stop its helpers; SIGKILL if it takes long.
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    if (await ready(child, ports, timeoutMs)) {
      const logPath = spec.logFile === undefined ? undefined : join(dir, spec.logFile);
      return {
        name: spec.name,
        ports,
        log: () => {
          let file = '';
          try {
            file = logPath === undefined ? '' : readFileSync(logPath, 'utf8');
          } catch {}
          return `${output}${file}`;
        },
        stop,
      };
    }
    lastOutput = output;
    await stop();
  }
  throw new Error(`${spec.name} did not start: ${lastOutput.slice(-2000)}`);
}

/** tinyproxy with `BasicAuth user password`: CONNECT to any port. */
export function startTinyproxy(user: string, password: string, timeoutMs: number): Promise<Daemon> {
  return startDaemon(
    {
      name: 'tinyproxy',
      portCount: 1,
      logFile: 'tinyproxy.log',
      prepare: (dir, [port]) => {
        const config = [
          'User nobody',
          'Group nogroup',
          `Port ${port}`,
          'Listen 127.0.0.1',
          `Bind ${OUTGOING.tinyproxy}`,
          'Timeout 60',
          `LogFile "${join(dir, 'tinyproxy.log')}"`,
          'LogLevel Connect',
          'MaxClients 50',
          'Allow 127.0.0.1',
          `BasicAuth ${user} ${password}`,
          // No ConnectPort line: CONNECT is allowed to every port.
          '',
        ].join('\n');
        writeFileSync(join(dir, 'tinyproxy.conf'), config);
        return { command: TINYPROXY, args: ['-d', '-c', join(dir, 'tinyproxy.conf')] };
      },
    },
    timeoutMs,
  );
}

/** squid with an `http_port` and an `https_port` (TLS with `cert`/`key`), no cache. */
export function startSquid(cert: string, key: string, timeoutMs: number): Promise<Daemon> {
  return startDaemon(
    {
      name: 'squid',
      portCount: 2,
      logFile: 'access.log',
      prepare: (dir, [httpPort, httpsPort]) => {
        writeFileSync(join(dir, 'cert.pem'), cert);
        writeFileSync(join(dir, 'key.pem'), key, { mode: 0o644 });
        const config = [
          `http_port 127.0.0.1:${httpPort}`,
          `https_port 127.0.0.1:${httpsPort} tls-cert=${join(dir, 'cert.pem')} tls-key=${join(dir, 'key.pem')}`,
          'acl local src 127.0.0.1/32',
          'http_access allow local',
          'http_access deny all',
          `tcp_outgoing_address ${OUTGOING.squid}`,
          `access_log stdio:${join(dir, 'access.log')}`,
          `cache_log ${join(dir, 'cache.log')}`,
          `pid_filename ${join(dir, 'squid.pid')}`,
          `coredump_dir ${dir}`,
          'cache deny all',
          'cache_mem 8 MB',
          'visible_hostname polysocket-test',
          'shutdown_lifetime 0 seconds',
          // No ICMP helper process (it would outlive a killed squid).
          'pinger_enable off',
          '',
        ].join('\n');
        writeFileSync(join(dir, 'squid.conf'), config);
        return { command: SQUID, args: ['-N', '-f', join(dir, 'squid.conf')] };
      },
    },
    timeoutMs,
  );
}

/** microsocks with user name and password. */
export function startMicrosocks(user: string, password: string, timeoutMs: number): Promise<Daemon> {
  return startDaemon(
    {
      name: 'microsocks',
      portCount: 1,
      prepare: (_dir, [port]) => ({
        command: MICROSOCKS,
        args: ['-i', '127.0.0.1', '-p', String(port), '-u', user, '-P', password, '-b', OUTGOING.socks],
      }),
    },
    timeoutMs,
  );
}
