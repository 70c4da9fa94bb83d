import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { DeliveryConfig } from './config.js';

/** `alerts.egress`: where webhooks may go (see the schema in alerts/config.ts). */
export type EgressConfig = DeliveryConfig['egress'];

/** A service of the pipeline itself (its InfluxDB, its MQTT broker) that webhooks must not reach. */
export interface InternalService {
  name: string;
  url: string;
}

/** A destination the policy refuses; `rule` names the rule, for the API answer and the log. */
export class EgressRefused extends Error {
  constructor(readonly rule: string) {
    super(`refused by egress policy: ${rule}`);
    this.name = 'EgressRefused';
  }
}

/** An IP address, IPv4-mapped IPv6 already turned into IPv4. */
interface Ip {
  v: 4 | 6;
  n: bigint;
}

/** A URL's destination after the static checks. */
export interface Target {
  url: URL;
  /** Lower case, without brackets or a trailing dot. */
  host: string;
  port: number;
  /** Set when the host is an IP literal (in whatever form the URL wrote it). */
  ip?: Ip;
}

type Lookup = (host: string) => Promise<{ address: string }[]>;

const WIDTH = { 4: 32, 6: 128 } as const;
const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443, 'mqtt:': 1883, 'tcp:': 1883, 'mqtts:': 8883, 'ssl:': 8883, 'tls:': 8883 };

/**
 * Parses an IP address in any form a URL host, a DNS answer or a config entry may hold it:
 * numeric IPv4 forms (`2130706433`, `0x7f.1`, `0177.0.0.1`) through the WHATWG URL parser,
 * IPv6 with or without an embedded dotted quad. Undefined for anything else (a host name).
 */
export function parseIp(text: string): Ip | undefined {
  let s = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (!s.includes(':')) {
    if (!/^[0-9a-fx.]+$/i.test(s)) return undefined;
    try {
      s = new URL(`http://${s}/`).hostname; // the URL parser's IPv4 number forms
    } catch {
      return undefined;
    }
    return isIPv4(s) ? { v: 4, n: s.split('.').reduce((a, p) => (a << 8n) | BigInt(p), 0n) } : undefined;
  }
  if (!isIPv6(s)) return undefined;
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseIp(dotted[1])!.n;
    s = `${s.slice(0, dotted.index)}:${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const n = groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
  return n >> 32n === 0xffffn ? { v: 4, n: n & 0xffffffffn } : { v: 6, n };
}

/** The canonical text of an address (dotted quad, or compressed IPv6 without brackets). */
export function formatIp(ip: Ip): string {
  if (ip.v === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.n >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((ip.n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

interface Net {
  ip: Ip;
  bits: number;
}

function parseNet(text: string): Net | undefined {
  const [addr, bitsText, extra] = text.split('/');
  const ip = parseIp(addr);
  if (!ip || extra !== undefined) return undefined;
  const mapped = ip.v === 4 && addr.includes(':'); // an IPv4-mapped network: count its IPv4 bits
  let bits = bitsText === undefined ? WIDTH[ip.v] : /^\d+$/.test(bitsText) ? Number(bitsText) - (mapped ? 96 : 0) : NaN;
  if (!(bits >= 0 && bits <= WIDTH[ip.v])) return undefined;
  bits = Math.floor(bits);
  return { ip, bits };
}

const inNet = (ip: Ip, net: Net): boolean => {
  if (ip.v !== net.ip.v) return false;
  const shift = BigInt(WIDTH[ip.v] - net.bits);
  return ip.n >> shift === net.ip.n >> shift;
};

/** Ranges never reached unless `alerts.egress.allow` lists an address or network in them. */
const SPECIAL: [string, Net][] = (
  [
    ['unspecified', '0.0.0.0/8'],
    ['loopback', '127.0.0.0/8'],
    ['link-local', '169.254.0.0/16'],
    ['private', '10.0.0.0/8'],
    ['private', '172.16.0.0/12'],
    ['private', '192.168.0.0/16'],
    ['shared (CGNAT)', '100.64.0.0/10'],
    ['reserved', '192.0.0.0/24'],
    ['reserved', '198.18.0.0/15'],
    ['multicast', '224.0.0.0/4'],
    ['reserved', '240.0.0.0/4'],
    ['unspecified', '::/128'],
    ['loopback', '::1/128'],
    ['link-local', 'fe80::/10'],
    ['private', 'fc00::/7'],
    ['site-local', 'fec0::/10'],
    ['multicast', 'ff00::/8'],
  ] as const
).map(([rule, net]) => [rule, parseNet(net)!]);

/** IPv6 forms that carry an IPv4 address a gateway may connect to: NAT64, 6to4, IPv4-compatible. */
function embeddedV4(ip: Ip): Ip | undefined {
  if (ip.v !== 6) return undefined;
  if (ip.n >> 32n === 0x64ff9bn << 64n) return { v: 4, n: ip.n & 0xffffffffn };
  if (ip.n >> 112n === 0x2002n) return { v: 4, n: (ip.n >> 80n) & 0xffffffffn };
  if (ip.n >> 32n === 0n && ip.n > 0xffffn) return { v: 4, n: ip.n };
  return undefined;
}

/** An `alerts.egress.allow` entry: host, `*.suffix`, IP or CIDR, optionally `:port` (`[v6]:port`). */
interface Entry {
  text: string;
  port?: number;
  host?: string;
  suffix?: string;
  net?: Net;
}

function parseEntry(text: string): Entry {
  let s = text.trim().toLowerCase();
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) {
    s = bracketed[1];
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if (s.split(':').length === 2) {
    const [h, p] = s.split(':');
    if (!/^\d+$/.test(p)) throw new Error(`alerts.egress.allow: bad port in "${text}"`);
    s = h;
    port = Number(p);
  }
  if (port !== undefined && !(port >= 1 && port <= 65535)) throw new Error(`alerts.egress.allow: bad port in "${text}"`);
  const net = parseNet(s);
  if (net) return { text, port, net };
  if (s.includes('/') || s.includes(':')) throw new Error(`alerts.egress.allow: "${text}" is no host, IP or CIDR`);
  if (s.startsWith('*.') && s.length > 2) return { text, port, suffix: s.slice(1).replace(/\.$/, '') };
  if (!/^[a-z0-9_.-]+$/.test(s)) throw new Error(`alerts.egress.allow: "${text}" is no host, IP or CIDR`);
  return { text, port, host: s.replace(/\.$/, '') };
}

const hostOf = (u: URL) => u.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
const portOf = (u: URL) => (u.port ? Number(u.port) : (DEFAULT_PORTS[u.protocol] ?? 0));

/**
 * A URL for logs and API answers: userinfo, query values and fragment replaced by `***`
 * (the path is shown as is). Anything that does not parse becomes `***`.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '***';
  }
  if (u.username || u.password) {
    u.username = '***';
    u.password = '';
  }
  for (const k of new Set(u.searchParams.keys())) u.searchParams.set(k, '***');
  if (u.hash) u.hash = '***';
  return u.href;
}

/** Every URL in a text (an error message) redacted, so none reaches a log or the outbox whole. */
export const redactUrls = (text: string): string => text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (m) => redactUrl(m));

/**
 * The webhook egress policy (security review, issue 10 row 2). A destination passes when its
 * scheme is allowed and every address it resolves to passes: loopback, link-local, private,
 * unspecified, multicast and reserved ranges and this host's own addresses only when an
 * IP/CIDR entry of `allow` covers them (a host name entry does not: DNS could point it anywhere);
 * the pipeline's own InfluxDB and MQTT broker only when an entry names them with their port;
 * any other (public) address when `allowPublic` (and `ports`, if set, holds the port), or when
 * an entry matches it. Checked when a subscription is saved and again at every delivery, after
 * DNS, against the very address the request then connects to.
 */
export class EgressPolicy {
  private readonly entries: Entry[];
  private readonly services: { name: string; host: string; port: number; ip?: Ip }[];
  private readonly lookup: Lookup;
  private readonly localAddresses: () => Ip[];

  constructor(
    readonly cfg: EgressConfig,
    services: InternalService[] = [],
    opts: { lookup?: Lookup; localAddresses?: () => string[] } = {},
  ) {
    this.entries = cfg.allow.map(parseEntry);
    this.services = services.flatMap((s) => {
      try {
        const u = new URL(s.url);
        return [{ name: s.name, host: hostOf(u), port: portOf(u), ip: parseIp(hostOf(u)) }];
      } catch {
        return [];
      }
    });
    this.lookup = opts.lookup ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
    const local = opts.localAddresses ?? (() => Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address)));
    this.localAddresses = () => local().flatMap((a) => parseIp(a) ?? []);
  }

  /** Scheme and URL form; the address too when the host is an IP literal. Throws EgressRefused. */
  target(url: string): Target {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new EgressRefused('not a URL');
    }
    const scheme = u.protocol.slice(0, -1);
    if (!(this.cfg.schemes as readonly string[]).includes(scheme)) throw new EgressRefused(`scheme ${scheme} (alerts.egress.schemes allows ${this.cfg.schemes.join(', ')})`);
    const host = hostOf(u);
    return { url: u, host, port: portOf(u), ip: parseIp(host) };
  }

  /**
   * The check when a subscription is saved: `target` and, when the name resolves now, every
   * address. A name that does not resolve yet passes here; delivery checks it again.
   */
  async check(url: string): Promise<void> {
    const t = this.target(url);
    let addresses: Ip[];
    try {
      addresses = t.ip ? [t.ip] : await this.resolveHost(t.host, AbortSignal.timeout(3000));
    } catch (e) {
      if (e instanceof EgressRefused) throw e;
      return;
    }
    await this.checkAddresses(t, addresses);
  }

  /**
   * The check at delivery: resolves the host (`all: true`), requires every address to pass and
   * returns the first, which the request must connect to (no second lookup: DNS rebinding
   * cannot swap in another address between check and connect).
   */
  async resolve(url: string, signal?: AbortSignal): Promise<{ target: Target; address: string }> {
    const t = this.target(url);
    const addresses = t.ip ? [t.ip] : await this.resolveHost(t.host, signal);
    await this.checkAddresses(t, addresses);
    return { target: t, address: formatIp(addresses[0]) };
  }

  private async resolveHost(host: string, signal?: AbortSignal): Promise<Ip[]> {
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(new Error(`DNS lookup of ${host} timed out`));
      signal?.addEventListener('abort', () => reject(new Error(`DNS lookup of ${host} timed out`)), { once: true });
    });
    const answers = await Promise.race([this.lookup(host), aborted]);
    const ips = answers.flatMap((a) => parseIp(a.address) ?? []);
    if (!ips.length) throw new Error(`DNS lookup of ${host} returned no address`);
    return ips;
  }

  private matching(t: Target, ip: Ip): Entry[] {
    return this.entries.filter((e) => (e.port === undefined || e.port === t.port) && (e.net ? inNet(ip, e.net) : e.host ? e.host === t.host : t.host.endsWith(e.suffix!)));
  }

  private async checkAddresses(t: Target, addresses: Ip[]): Promise<void> {
    const local = this.localAddresses();
    const isLocal = (ip: Ip) => local.some((l) => l.v === ip.v && l.n === ip.n);
    const serviceIps = await Promise.all(this.services.map(async (s) => (s.ip ? [s.ip] : await this.resolveHost(s.host, AbortSignal.timeout(3000)).catch(() => []))));
    for (const ip of addresses) {
      const text = formatIp(ip);
      const entries = this.matching(t, ip);
      const svc = this.services.find((s, i) => s.port === t.port && (s.host === t.host || serviceIps[i].some((a) => (a.v === ip.v && a.n === ip.n) || (special(a) === 'unspecified' && (special(ip) === 'loopback' || isLocal(ip))))));
      if (svc && !entries.some((e) => e.port === t.port)) throw new EgressRefused(`the pipeline's own ${svc.name} ${text}:${t.port} (alerts.egress.allow does not list it with its port)`);
      const embedded = embeddedV4(ip);
      const rule = special(ip) ?? (embedded && special(embedded) ? `${special(embedded)} address ${formatIp(embedded)} embedded in` : undefined) ?? (isLocal(ip) ? 'this host\'s' : undefined);
      if (rule) {
        if (!entries.some((e) => e.net)) throw new EgressRefused(`${rule} address ${text} (alerts.egress.allow does not list it)`);
        continue;
      }
      if (entries.length) continue;
      if (!this.cfg.allowPublic) throw new EgressRefused(`address ${text} of ${t.host} (alerts.egress.allow does not list it and alerts.egress.allowPublic is false)`);
      if (this.cfg.ports.length && !this.cfg.ports.includes(t.port)) throw new EgressRefused(`port ${t.port} (alerts.egress.ports allows ${this.cfg.ports.join(', ')})`);
    }
  }
}

function special(ip: Ip): string | undefined {
  return SPECIAL.find(([, net]) => inNet(ip, net))?.[0];
}

/** The outcome of one webhook POST. */
export interface WebhookAnswer {
  status: number;
  /** Response body bytes read (at most about `maxResponseBytes`; the rest is never read). */
  bytesRead: number;
}

/**
 * POSTs `body` to `url` under the policy: resolves and checks (EgressRefused), then connects to
 * the checked address itself (SNI and certificate checked against the URL's host name). No
 * redirect is followed (a 3xx is just the status); at most `maxResponseBytes` of the answer are
 * read, then the connection is cut; `timeoutMs` bounds the whole exchange, DNS included.
 * Userinfo in the URL goes as Basic auth. Error messages carry no URL.
 */
export async function postWebhook(policy: EgressPolicy, url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<WebhookAnswer> {
  const signal = AbortSignal.timeout(timeoutMs);
  const { target, address } = await policy.resolve(url, signal);
  const u = target.url;
  const max = policy.cfg.maxResponseBytes;
  return new Promise<WebhookAnswer>((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      {
        host: address,
        port: target.port,
        path: `${u.pathname}${u.search}`,
        method: 'POST',
        headers: { ...headers, host: u.host, 'content-length': String(Buffer.byteLength(body)) },
        auth: u.username || u.password ? `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}` : undefined,
        servername: target.ip ? undefined : target.host,
        agent: false,
        signal,
      },
      (res: IncomingMessage) => {
        let bytesRead = 0;
        const finish = () => {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, bytesRead });
        };
        res.on('data', (chunk: Buffer) => {
          bytesRead += chunk.length;
          if (bytesRead >= max) finish();
        });
        res.on('end', finish);
        res.on('error', finish); // cut off or timed out while reading the body: the status stands
      },
    );
    req.on('error', (e: Error) => reject(new Error(redactUrls(signal.aborted ? `webhook timed out after ${timeoutMs} ms` : e.message))));
    req.end(body);
  });
}
