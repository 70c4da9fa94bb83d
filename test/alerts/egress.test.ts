import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertTopic, testTopic } from '../../alerts/alert.js';
import { EgressPolicy, formatIp, parseIp, postWebhook, redactUrl, redactUrls, type EgressConfig } from '../../alerts/egress.js';
import type { Incident } from '../../alerts/incident.js';

const defaults: EgressConfig = { allow: [], allowPublic: true, schemes: ['https', 'http'], ports: [], maxResponseBytes: 65536 };
/** A fake resolver: names to addresses; anything else does not resolve. */
const dns = (table: Record<string, string[]>) => (host: string) => (table[host] ? Promise.resolve(table[host].map((address) => ({ address }))) : Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })));
const policy = (cfg: Partial<EgressConfig> = {}, table: Record<string, string[]> = {}, local: string[] = ['127.0.0.1', '::1']) =>
  new EgressPolicy({ ...defaults, ...cfg }, [{ name: 'InfluxDB', url: 'http://127.0.0.1:8086' }, { name: 'MQTT broker', url: 'mqtt://localhost:1883' }], { lookup: dns({ localhost: ['127.0.0.1', '::1'], ...table }), localAddresses: () => local });
const refusal = (p: EgressPolicy, url: string) => p.check(url).then(() => 'allowed', (e: Error) => e.message);

describe('egress policy', () => {
  it('normalises every numeric form of an address before checking it', async () => {
    expect(formatIp(parseIp('2130706433')!)).toBe('127.0.0.1');
    expect(formatIp(parseIp('0x7f.0.0.1')!)).toBe('127.0.0.1');
    expect(formatIp(parseIp('0177.0.0.1')!)).toBe('127.0.0.1');
    expect(formatIp(parseIp('::ffff:127.0.0.1')!)).toBe('127.0.0.1');
    expect(formatIp(parseIp('[::ffff:7f00:1]')!)).toBe('127.0.0.1');
    expect(formatIp(parseIp('0:0:0:0:0:0:0:1')!)).toBe('::1');
    expect(parseIp('example.com')).toBeUndefined();
    const p = policy();
    for (const host of ['127.0.0.1', '2130706433', '0x7f000001', '0177.0.0.1', '127.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:7f00:1]']) {
      expect(await refusal(p, `http://${host}:9000/x`), host).toBe('refused by egress policy: loopback address 127.0.0.1 (alerts.egress.allow does not list it)');
    }
    expect(await refusal(p, 'http://[::1]:9000/')).toMatch(/loopback address ::1 /);
    expect(await refusal(p, 'http://0/')).toMatch(/unspecified address 0.0.0.0 /);
    expect(await refusal(p, 'http://[::]/')).toMatch(/unspecified address :: /);
    expect(await refusal(p, 'http://169.254.169.254/latest/meta-data/')).toMatch(/link-local address 169.254.169.254 /);
    expect(await refusal(p, 'http://[fe80::1]/')).toMatch(/link-local address fe80::1 /);
    for (const ip of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '[fd00::1]']) expect(await refusal(p, `https://${ip}/`), ip).toMatch(/private address /);
    expect(await refusal(p, 'http://[64:ff9b::7f00:1]/')).toMatch(/loopback address 127.0.0.1 embedded in address 64:ff9b::7f00:1 /);
    expect(await refusal(p, 'http://100.100.100.200/')).toMatch(/shared \(CGNAT\) address/);
    expect(await refusal(p, 'https://93.184.216.34/hook')).toBe('allowed');
    expect(await refusal(p, 'https://172.32.0.1/hook')).toBe('allowed');
  });

  it('lets explicitly listed addresses, networks and ports through, but not the pipeline\'s own services without their port', async () => {
    expect(await refusal(policy({ allow: ['127.0.0.1'] }), 'http://2130706433:9000/hook')).toBe('allowed');
    expect(await refusal(policy({ allow: ['::ffff:127.0.0.1'] }), 'http://127.0.0.1:9000/hook')).toBe('allowed');
    expect(await refusal(policy({ allow: ['10.0.0.0/8'] }), 'http://10.9.8.7/hook')).toBe('allowed');
    expect(await refusal(policy({ allow: ['127.0.0.1:9000'] }), 'http://127.0.0.1:9000/hook')).toBe('allowed');
    expect(await refusal(policy({ allow: ['127.0.0.1:9000'] }), 'http://127.0.0.1:9001/hook')).toMatch(/loopback address 127.0.0.1 /);
    expect(await refusal(policy({ allow: ['[::1]:9000'] }), 'http://[::1]:9000/hook')).toBe('allowed');
    // A host name entry does not open a private address: DNS decides where the name points.
    expect(await refusal(policy({ allow: ['hooks.corp'] }, { 'hooks.corp': ['10.0.0.5'] }), 'http://hooks.corp/x')).toMatch(/private address 10.0.0.5 /);
    // The pipeline's InfluxDB (127.0.0.1:8086) and broker (localhost:1883), by address or by name.
    const listed = policy({ allow: ['127.0.0.1', '::1'] });
    expect(await refusal(listed, 'http://127.0.0.1:8086/query?q=DROP%20DATABASE%20x')).toBe("refused by egress policy: the pipeline's own InfluxDB 127.0.0.1:8086 (alerts.egress.allow does not list it with its port)");
    expect(await refusal(listed, 'http://localhost:8086/query')).toMatch(/the pipeline's own InfluxDB 127.0.0.1:8086/);
    expect(await refusal(listed, 'http://[::ffff:7f00:1]:1883/')).toMatch(/the pipeline's own MQTT broker 127.0.0.1:1883/);
    expect(await refusal(listed, 'http://127.0.0.1:8087/')).toBe('allowed');
    expect(await refusal(policy({ allow: ['127.0.0.1:8086'] }), 'http://127.0.0.1:8086/write')).toBe('allowed');
    // This host's own addresses count as loopback.
    expect(await refusal(policy({}, {}, ['127.0.0.1', '203.0.113.7']), 'http://203.0.113.7/')).toMatch(/this host's address 203.0.113.7 /);
  });

  it('checks schemes, names, ports and every address a name resolves to', async () => {
    expect(await refusal(policy(), 'ftp://93.184.216.34/')).toBe('refused by egress policy: scheme ftp (alerts.egress.schemes allows https, http)');
    expect(await refusal(policy({ schemes: ['https'] }), 'http://93.184.216.34/')).toMatch(/scheme http /);
    const table = { 'good.example': ['93.184.216.34'], 'evil.example': ['93.184.216.34', '127.0.0.1'], 'a.hooks.example': ['93.184.216.35'] };
    expect(await refusal(policy({}, table), 'https://good.example/')).toBe('allowed');
    expect(await refusal(policy({}, table), 'https://evil.example/')).toMatch(/loopback address 127.0.0.1 /);
    expect(await refusal(policy({}, table), 'https://localhost/')).toMatch(/loopback address 127.0.0.1 /);
    const closed = policy({ allowPublic: false, allow: ['*.hooks.example'] }, table);
    expect(await refusal(closed, 'https://a.hooks.example/')).toBe('allowed');
    expect(await refusal(closed, 'https://good.example/')).toMatch(/address 93.184.216.34 of good.example \(alerts.egress.allow does not list it and alerts.egress.allowPublic is false\)/);
    expect(await refusal(policy({ ports: [443] }, table), 'http://good.example/')).toMatch(/port 80 \(alerts.egress.ports allows 443\)/);
    // Saving a subscription whose name does not resolve yet is allowed; delivery checks again.
    expect(await refusal(policy(), 'https://not-yet.example/')).toBe('allowed');
    await expect(policy().resolve('https://not-yet.example/')).rejects.toThrow(/ENOTFOUND/);
    expect(() => policy({ allow: ['10.0.0.0/33'] })).toThrow(/alerts.egress.allow/);
  });

  it('connects to the address it checked: a name that rebinds to loopback is refused, not re-resolved', async () => {
    let answers = [['93.184.216.34'], ['127.0.0.1']];
    const p = new EgressPolicy(defaults, [], { lookup: () => Promise.resolve((answers.shift() ?? ['127.0.0.1']).map((address) => ({ address }))), localAddresses: () => [] });
    expect((await p.resolve('https://rebind.example/')).address).toBe('93.184.216.34');
    await expect(p.resolve('https://rebind.example/')).rejects.toThrow('refused by egress policy: loopback address 127.0.0.1 (alerts.egress.allow does not list it)');
    answers = [];
  });

  it('redacts userinfo, query values and fragments', () => {
    expect(redactUrl('https://user:pa55@hooks.example/a/b?token=s3cret&x=1#frag')).toBe('https://***@hooks.example/a/b?token=***&x=***#***');
    expect(redactUrl('not a url')).toBe('***');
    expect(redactUrls('failed for http://u:p@h.example/?k=v now')).toBe('failed for http://***@h.example/?k=*** now');
  });

  it('puts the data grade first in the MQTT alert topic', () => {
    const inc = { grade: 'core', level: 3, sector: 'energy', region: '220100' } as Incident;
    expect(alertTopic('jl/alerts', inc)).toBe('jl/alerts/core/III/energy/220100');
    // A custom prefix cannot place an alert under another grade's ACL pattern (jl/alerts/general/#).
    expect(alertTopic('jl/alerts/general', inc)).toBe('jl/alerts/core/general/III/energy/220100');
  });

  it("puts a subscription's test alert under its clearance, where its subscriber's ACL lets it read", () => {
    expect(testTopic('jl/alerts', 'general')).toBe('jl/alerts/general/test');
    expect(testTopic('jl/alerts/ops', 'important')).toBe('jl/alerts/important/ops/test');
  });
});

describe('webhook POST under the policy', () => {
  let server: Server;
  let port = 0;
  const sent: Record<string, number> = {};
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url === '/redirect') return void res.writeHead(307, { location: '/target' }).end();
      if (req.url === '/target') return void res.writeHead(204).end();
      // An endless answer: count what actually left before the client cut it.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      sent.huge = 0;
      const pump = () => {
        while (!res.destroyed && sent.huge < 1 << 30) {
          sent.huge += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (sent.closed = 1));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));

  const p = () => new EgressPolicy({ ...defaults, allow: ['127.0.0.1'] }, [], { localAddresses: () => [] });

  it('is refused on loopback unless listed', async () => {
    await expect(postWebhook(new EgressPolicy(defaults), `http://127.0.0.1:${port}/target`, {}, '{}', 2000)).rejects.toThrow(/loopback address 127.0.0.1/);
    expect((await postWebhook(p(), `http://127.0.0.1:${port}/target`, {}, '{}', 2000)).status).toBe(204);
  });

  it('does not follow a redirect', async () => {
    expect((await postWebhook(p(), `http://127.0.0.1:${port}/redirect`, {}, '{}', 2000)).status).toBe(307);
  });

  it('reads at most maxResponseBytes of an answer, then cuts the connection', async () => {
    const t0 = Date.now();
    const res = await postWebhook(p(), `http://127.0.0.1:${port}/huge`, {}, '{}', 10_000);
    expect(res.status).toBe(200);
    expect(res.bytesRead).toBeGreaterThanOrEqual(65536);
    expect(res.bytesRead).toBeLessThanOrEqual(2 * 65536);
    expect(Date.now() - t0).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(sent.closed).toBe(1);
    expect(sent.huge).toBeLessThan(64 << 20); // socket buffers at most, never the 1 GiB
  });
});
