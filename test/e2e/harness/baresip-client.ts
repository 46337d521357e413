import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './child-process-control.ts';
import { ProcessOutput } from './process-output.ts';

export interface BaresipOptions {
  user: string;
  password: string;
  /** SIP domain of the account (the AOR host). */
  domain: string;
  /** `host:port` every request is sent to (the server under test). */
  proxy: string;
  transport?: 'udp' | 'tcp' | 'tls';
  /** PEM file of CAs baresip trusts for SIP/TLS (`sip_cafile`); for a self-signed server certificate, the certificate itself. */
  caFile?: string;
  /** Answer incoming calls by itself. Default false. */
  autoAnswer?: boolean;
  /** REGISTER interval in seconds; 0 disables registration. Default 600. */
  registerIntervalSeconds?: number;
  /** Runs baresip under this command, e.g. `['ip', 'netns', 'exec', 'phone-ns']`. Default none. */
  commandPrefix?: string[];
  /** `sip_listen` address. Default `127.0.0.1:0`. */
  sipListen?: string;
  /** `net_interface`: the interface whose address baresip puts in its SDP and Contact. Default baresip's choice. */
  netInterface?: string;
  /** Print every SIP message sent and received (`-s`), e.g. to read the SDP a phone was offered. Default false. */
  sipTrace?: boolean;
  /** Lines of the `contacts` file (e.g. `"1002" <sip:1002@example.test>;presence=p2p`). Default none. */
  contacts?: string[];
  /** More application modules to load (e.g. `contact.so`, `presence.so`). Default none. */
  appModules?: string[];
}

export interface BaresipClient {
  pid: number;
  configDir: string;
  /** Everything baresip printed so far (stdout and stderr interleaved). */
  readonly output: string;
  /** Waits for `pattern` in the output printed at or after `since` (a previous `output.length`; default 0). */
  waitFor(pattern: RegExp, timeoutMs: number, since?: number): Promise<RegExpMatchArray>;
  /** Sends one console command (e.g. `/dial sip:1001@example.test`, `/hangup`, `/reginfo`). */
  send(command: string): void;
  stop(): Promise<void>;
}

/**
 * baresip 1.0 (Debian's baresip-core) as a scripted softphone: its own config dir, no audio hardware
 * (a sine tone as the source, the in-memory `aubridge` as player), commands over stdin (`stdio` module,
 * which also works on a pipe), SIP bound to 127.0.0.1 on kernel-chosen ports.
 */
export async function startBaresip(options: BaresipOptions): Promise<BaresipClient> {
  const transport = options.transport ?? 'udp';
  const configDir = await mkdtemp(join(tmpdir(), 'patchbay-baresip-'));
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config'), baresipConfig(configDir, options));
  const params = [
    `auth_pass=${options.password}`,
    `outbound="sip:${options.proxy};transport=${transport}"`,
    `regint=${options.registerIntervalSeconds ?? 600}`,
    ...(options.autoAnswer ? ['answermode=auto'] : []),
  ];
  await writeFile(
    join(configDir, 'accounts'),
    `<sip:${options.user}@${options.domain};transport=${transport}>;${params.join(';')}\n`,
  );
  await writeFile(join(configDir, 'contacts'), (options.contacts ?? []).map((c) => `${c}\n`).join(''));

  const [command, ...prefixArgs] = [...(options.commandPrefix ?? []), 'baresip'];
  const child = spawn(command!, [...prefixArgs, '-f', configDir, ...(options.sipTrace ? ['-s'] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = new ProcessOutput();
  output.attach(child.stdout);
  output.attach(child.stderr);
  child.once('exit', () => output.markClosed());
  child.once('error', () => output.markClosed());
  // A closed stdin pipe must not crash the test process.
  child.stdin.on('error', () => undefined);

  const stop = async (): Promise<void> => {
    await stopChild(child, 2000);
    await rm(configDir, { recursive: true, force: true });
  };
  try {
    await output.waitFor(/baresip is ready/, 10_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: child.pid ?? -1,
    configDir,
    get output() {
      return output.all;
    },
    waitFor: (pattern, timeoutMs, since = 0) => output.waitFor(pattern, timeoutMs, since),
    send: (command) => {
      child.stdin.write(`${command}\n`);
    },
    stop,
  };
}

function baresipConfig(configDir: string, options: BaresipOptions): string {
  const caFile = options.caFile;
  return [
    'poll_method\t\tepoll',
    `sip_listen\t\t${options.sipListen ?? '127.0.0.1:0'}`,
    ...(options.netInterface ? [`net_interface\t\t${options.netInterface}`] : []),
    // baresip 1.0 has no switch to skip server verification: trust the given CA file instead.
    ...(caFile ? [`sip_cafile\t\t${caFile}`] : []),
    'call_local_timeout\t120',
    'audio_source\t\tausine,440',
    'audio_player\t\taubridge,patchbay',
    'audio_alert\t\taubridge,patchbay-alert',
    'module_path\t\t/usr/lib/baresip/modules',
    'module\t\t\tstdio.so',
    'module\t\t\tg711.so',
    'module\t\t\tausine.so',
    'module\t\t\taubridge.so',
    'module_tmp\t\taccount.so',
    'module_app\t\tmenu.so',
    ...(options.appModules ?? []).map((m) => `module_app\t\t${m}`),
    `# generated by test/e2e/harness for ${configDir}`,
    '',
  ].join('\n');
}
