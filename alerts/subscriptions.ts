import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Subscription, SubscriptionInput } from './subscription.js';

/** Subscriptions, kept in one JSON file, rewritten atomically on every change. */
export class SubscriptionStore {
  private readonly subs = new Map<string, Subscription>();

  constructor(private readonly file: string) {
    if (existsSync(file)) for (const s of JSON.parse(readFileSync(file, 'utf8')) as Subscription[]) this.subs.set(s.id, s);
  }

  list(): Subscription[] {
    return [...this.subs.values()];
  }

  get(id: string): Subscription | undefined {
    return this.subs.get(id);
  }

  create(input: SubscriptionInput): Subscription {
    const s: Subscription = { ...input, id: `sub-${randomUUID()}`, createdAt: Date.now() };
    this.subs.set(s.id, s);
    this.save();
    return s;
  }

  replace(id: string, input: SubscriptionInput): Subscription | undefined {
    const old = this.subs.get(id);
    if (!old) return undefined;
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

/** A subscription as shown by the API: the webhook secret is never returned. */
export function redactSubscription(s: Subscription): Subscription {
  return s.channel.type === 'webhook' ? { ...s, channel: { ...s.channel, secret: '***' } } : s;
}
