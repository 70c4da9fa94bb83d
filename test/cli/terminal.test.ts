import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Pipeline } from '../../app/pipeline.js';
import { packageRoot } from '../../config/paths.js';
import { startBanner } from '../../cli/banner.js';

const cli = join(packageRoot(), 'dist', 'cli', 'jlpipe.js');
const jlpipe = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });

// Issue 14, "a terminal a person can read": the version, help with examples and the
// environment, one clear line for a bad argument or value, and a start-up banner.
describe('jlpipe at a terminal', () => {
  it('--version prints the package version', () => {
    const r = jlpipe(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version);
  });

  it("start's help has examples and lists the environment variables it reads", () => {
    const r = jlpipe(['start', '--help']);
    expect(r.stdout).toMatch(/Examples:\n\s+jlpipe start --simulate/);
    for (const v of ['JL_MQTT_URL', 'JL_INFLUX_TOKEN', 'JL_HTTP_PORT', 'NAME_FILE']) expect(r.stdout).toContain(v);
  });

  it('every command\'s help has an example and lists the environment variables it reads', () => {
    // Walks the command tree from the top-level help: a command added without examples fails here.
    const commands = (path: string[]): [string[], string][] => {
      const help = jlpipe([...path, '--help']).stdout;
      const section = /\nCommands:\n([\s\S]*?)(\n\n|$)/.exec(help)?.[1];
      if (!section) return [[path, help]];
      const names = section.split('\n').map((l) => /^\s{2}(\S+)/.exec(l)?.[1]).filter((n): n is string => !!n && n !== 'help');
      return names.flatMap((n) => commands([...path, n]));
    };
    const all = commands([]);
    expect(all.length).toBeGreaterThanOrEqual(17);
    for (const [path, help] of all) {
      expect(help, path.join(' ')).toMatch(new RegExp(`\\nExamples?:\\n\\s+(\\S+=\\S+ )*jlpipe ${path.join(' ')}`));
      expect(help, path.join(' ')).toMatch(/\nEnvironment:\n\s+\S/);
    }
  });

  it('a bad --rate or environment value is one line and a non-zero exit, no stack trace', () => {
    const rate = jlpipe(['start', '--simulate', '--rate', 'fast']);
    expect(rate.status).toBe(2);
    expect(rate.stderr.trim()).toBe('config error: command line: --rate: must be a positive number of messages per second, got "fast"');
    const port = jlpipe(['start'], { JL_HTTP_PORT: 'eighty' });
    expect(port.status).toBe(2);
    expect(port.stderr.trim().split('\n')).toHaveLength(1);
    expect(port.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('validate-config checks the environment: an unknown JL_ name is named as a likely typo', () => {
    const r = jlpipe(['validate-config'], { JL_INFLUX_TOKN: 'x' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: environment variable JL_INFLUX_TOKN is not one jlpipe reads \(a typo\?\)/);
    expect((JSON.parse(r.stdout) as { environment: { unknown: string[] } }).environment.unknown).toEqual(['JL_INFLUX_TOKN']);
  });

  it('the start-up banner says where the console and the API are, which token to use, and how to stop', () => {
    const p = { config: { http: { host: '0.0.0.0', port: 0 }, api: { tokens: [] }, dataDir: '/var/lib/jl', mqtt: { url: null } }, httpPort: 8080, broker: { url: 'mqtt://127.0.0.1:1883' }, influx: { url: 'http://127.0.0.1:8086' } } as unknown as Pipeline;
    const text = startBanner(p);
    expect(text).toContain('API        http://127.0.0.1:8080');
    expect(text).toContain('Console    http://127.0.0.1:8080/');
    expect(text).toContain('/var/lib/jl/api-token');
    expect(text).toContain('mqtt://127.0.0.1:1883 (embedded broker)');
    expect(text).toMatch(/Stop\s+Ctrl\+C/);
  });
});
