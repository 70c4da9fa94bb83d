import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { redactUrl, type EgressPolicy } from './egress.js';
import type { Subscription, SubscriptionInput } from './subscription.js';

/**
 * Subscriptions, kept in one JSON file (mode 0600: it holds webhook secrets and URLs whole),
 * rewritten atomically on every change. A webhook URL the egress policy refuses is never saved
 * (EgressRefused from `create` and `replace`).
 */
export class SubscriptionStore {
  private readonly subs = new Map<string, Subscription>();

  constructor(
    private readonly file: string,
    readonly egress: EgressPolicy,
  ) {
    if (existsSync(file)) for (const s of JSON.parse(readFileSync(file, 'utf8')) as Subscription[]) this.subs.set(s.id, s);
  }

  list(): Subscription[] {
    return [...this.subs.values()];
  }

  get(id: string): Subscription | undefined {
    return this.subs.get(id);
  }

  async create(input: SubscriptionInput): Promise<Subscription> {
    if (input.channel.type === 'webhook') await this.egress.check(input.channel.url);
    const s: Subscription = { ...input, id: `sub-${randomUUID()}`, createdAt: Date.now() };
    this.subs.set(s.id, s);
    this.save();
    return s;
  }

  async replace(id: string, input: SubscriptionInput): Promise<Subscription | undefined> {
    if (!this.subs.has(id)) return undefined;
    if (input.channel.type === 'webhook') await this.egress.check(input.channel.url);
    const old = this.subs.get(id);
    if (!old) return undefined; // deleted meanwhile
    const s: Subscription = { ...input, id, createdAt: old.createdAt };
    this.subs.set(id, s);
    this.save();
    return s;
  }

  delete(id: string): boolean {
    const had = this.subs.delete(id);
    if (had) this.save();
    return had;
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.list(), null, 1), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/**
 * A subscription as shown by the API or logged: the webhook secret is never returned, and the
 * URL's credentials (userinfo, query values, fragment) are replaced by `***`.
 */
export function redactSubscription(s: Subscription): Subscription {
  return s.channel.type === 'webhook' ? { ...s, channel: { ...s.channel, url: redactUrl(s.channel.url), secret: '***' } } : s;
}
