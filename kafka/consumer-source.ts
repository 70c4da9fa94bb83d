import Kafka from 'node-rdkafka';
import type { Assignment, KafkaConsumer, LibrdKafkaError, Message } from 'node-rdkafka';
import type { Logger } from 'pino';
import type { ConsumerStats } from '../core/consumer.js';
import type { Envelope, RawMessage, Source } from '../core/types.js';
import { PartitionOffsets } from './offsets.js';

export interface KafkaSourceOptions {
  /** Name in logs and metrics, e.g. `readings`. */
  name: string;
  topic: string;
  groupId: string;
  /** Base client properties (brokers, security). */
  client: Record<string, string | number | boolean>;
  sessionTimeoutMs: number;
  commitEveryMs: number;
  /** Records taken but not settled; past it every partition is paused. */
  maxUnsettled: number;
  /** A Kafka record as the raw message the flow handles; undefined skips it (settled at once). */
  toMessage(m: Message): RawMessage | undefined;
  /** True while the consumer should hold every partition (e.g. the output is down). */
  holdAll?: () => boolean;
  /** Before partitions are assigned to this member (restore their state); awaited. */
  onAssign?: (partitions: number[]) => Promise<void>;
  /** Before partitions are taken away, after their settled offsets are committed; awaited. */
  onRevoke?: (partitions: number[]) => Promise<void>;
  /** Before each commit (e.g. flush what the committed records produced); awaited. */
  beforeCommit?: () => Promise<void>;
}

const ASSIGN = -175;
const REVOKE = -174;
const BATCH = 1000;

/**
 * A consumer-group member as a Source of the delivery runtime (SPEC 8): records are handed on
 * in partition order; `ack` marks a record durable and settled offsets are committed every
 * `commitEveryMs` (never past a record that is not durable, see PartitionOffsets); `nack` seeks
 * the partition back to that record, so it is read again. Partitions are paused while too many
 * records are unsettled or `holdAll` says so, which bounds memory when the output is down.
 * On a rebalance the member commits what is settled, lets the owner checkpoint (`onRevoke`),
 * and gives the partitions up; new partitions are restored (`onAssign`) before the first
 * record of them is read. Whatever was not committed is read again by the next owner.
 */
export class KafkaSource implements Source {
  readonly name: string;
  private readonly c: KafkaConsumer;
  private handler?: (env: Envelope) => void;
  private readonly parts = new Map<number, { offsets: PartitionOffsets; epoch: number; seekTo?: number }>();
  private epochs = 0;
  private running = false;
  private connected = false;
  private paused = false;
  private timer?: NodeJS.Timeout;
  private committing = false;
  private rebalancing: Promise<void> = Promise.resolve();
  private readonly counts = { rebalances: 0, commits: 0, commitErrors: 0, nacked: 0 };
  private readonly commitMs: number[] = [];
  /** The newest offset of each owned partition, asked of the brokers (the client's own copy goes stale while paused). */
  private readonly highs = new Map<number, number>();
  private highTimer?: NodeJS.Timeout;

  constructor(private readonly opts: KafkaSourceOptions, private readonly log: Logger) {
    this.name = `kafka:${opts.name}`;
    this.c = new Kafka.KafkaConsumer(
      {
        ...opts.client,
        'group.id': opts.groupId,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'session.timeout.ms': opts.sessionTimeoutMs,
        'heartbeat.interval.ms': Math.max(100, Math.floor(opts.sessionTimeoutMs / 5)),
        // Cooperative: a member joining or leaving moves only the partitions that must move
        // (kafka.client may name an eager strategy; both protocols are handled).
        'partition.assignment.strategy': String(opts.client['partition.assignment.strategy'] ?? 'cooperative-sticky'),
        'fetch.wait.max.ms': 10,
        rebalance_cb: (err: LibrdKafkaError, assignment: Assignment[]) => this.rebalance(err, assignment),
      },
      { 'auto.offset.reset': 'earliest' },
    );
    this.c.on('event.error', (e) => this.log.warn({ source: this.name, err: e.message }, 'Kafka consumer error'));
  }

  /** Connects, subscribes and starts handing records to `handler`. */
  start(handler: (env: Envelope) => void): void {
    this.handler = handler;
    if (this.running) return;
    this.running = true;
    this.c.connect({ timeout: 30_000 }, (err) => {
      if (err) {
        this.log.error({ source: this.name, err: err.message }, 'Kafka consumer could not connect; retrying');
        this.running = false;
        setTimeout(() => this.handler && this.start(this.handler), 2000).unref();
        return;
      }
      this.connected = true;
      // node-rdkafka's consume(n) waits this long for *each* next record: short, so a batch is
      // handed on as soon as the records fetched so far are taken, not when n have arrived.
      this.c.setDefaultConsumeTimeout(10);
      this.c.subscribe([this.opts.topic]);
      this.loop();
      this.timer = setInterval(() => void this.commit(), this.opts.commitEveryMs);
      this.highTimer = setInterval(() => this.queryHighs(), 2000);
      this.highTimer.unref();
    });
  }

  /** Stops handing records on; what is unsettled is not committed and is read again later. */
  pause(): void {
    this.handler = undefined;
  }

  async stop(): Promise<void> {
    this.handler = undefined;
    this.running = false;
    clearInterval(this.timer);
    clearInterval(this.highTimer);
    if (!this.connected) return;
    await this.rebalancing.catch(() => {});
    await this.commit();
    await new Promise<void>((resolve) => this.c.disconnect(() => resolve()));
    this.connected = false;
  }

  /** Records taken and not yet durable, over every owned partition. */
  get unsettled(): number {
    let n = 0;
    for (const p of this.parts.values()) n += p.offsets.unsettled;
    return n;
  }

  stats(): ConsumerStats {
    const lag: Record<number, number> = {};
    let totalLag = 0;
    for (const [p, s] of this.parts) {
      let w = { lowOffset: -1, highOffset: -1 };
      try {
        if (this.connected) w = this.c.getWatermarkOffsets(this.opts.topic, p);
      } catch {
        /* not fetched yet */
      }
      // Before the first record (restoring, or paused from the start) the lag counts from the
      // committed offset, else from the start of the partition.
      const from = s.offsets.position >= 0 ? s.offsets.position : s.offsets.committed >= 0 ? s.offsets.committed : w.lowOffset;
      const high = Math.max(w.highOffset, this.highs.get(p) ?? -1);
      lag[p] = high >= 0 && from >= 0 ? Math.max(0, high - from) : 0;
      totalLag += lag[p];
    }
    return { topic: this.opts.topic, group: this.opts.groupId, partitions: [...this.parts.keys()].sort((a, b) => a - b), lag, totalLag, ...this.counts, commitMs: [...this.commitMs], unsettled: this.unsettled, paused: this.paused };
  }

  /** Asks the brokers for each owned partition's newest offset, for the lag while paused. */
  private queryHighs(): void {
    if (!this.connected) return;
    for (const p of this.parts.keys()) {
      this.c.queryWatermarkOffsets(this.opts.topic, p, 1000, (err, w) => {
        if (!err && this.parts.has(p)) this.highs.set(p, w.highOffset);
      });
    }
    for (const p of this.highs.keys()) if (!this.parts.has(p)) this.highs.delete(p);
  }

  private loop(): void {
    if (!this.running) return;
    this.applyHold();
    this.c.consume(BATCH, (err, msgs) => {
      if (err) {
        if (this.running) this.log.warn({ source: this.name, err: err.message }, 'Kafka consume failed; retrying');
        setTimeout(() => this.loop(), 200);
        return;
      }
      for (const m of msgs) this.deliver(m);
      setImmediate(() => this.loop());
    });
  }

  /** Pauses every partition while too much is unsettled or the owner holds; resumes at half. */
  private applyHold(): void {
    const held = this.opts.holdAll?.() ?? false;
    const n = this.unsettled;
    const shouldPause = held || n >= this.opts.maxUnsettled || !this.handler;
    const shouldResume = !held && n < this.opts.maxUnsettled / 2 && !!this.handler;
    if (!this.paused && shouldPause) {
      this.paused = true;
      this.c.pause(this.assigned());
      this.log.info({ source: this.name, unsettled: n, held }, 'partitions paused');
    } else if (this.paused && shouldResume) {
      this.paused = false;
      this.c.resume(this.assigned());
      this.log.info({ source: this.name }, 'partitions resumed');
    }
  }

  private assigned(): { topic: string; partition: number }[] {
    return [...this.parts.keys()].map((partition) => ({ topic: this.opts.topic, partition }));
  }

  private deliver(m: Message): void {
    const p = this.parts.get(m.partition);
    if (!p || !this.handler) return; // revoked meanwhile, or stopping: read again by the owner
    if (p.seekTo !== undefined) {
      if (m.offset !== p.seekTo) return; // fetched before the seek: it comes again
      p.seekTo = undefined;
    }
    if (m.offset < p.offsets.position) return;
    p.offsets.take(m.offset);
    const msg = this.opts.toMessage(m);
    if (!msg) {
      p.offsets.settle(m.offset);
      return;
    }
    msg.kafka = { partition: m.partition, offset: m.offset };
    const epoch = p.epoch;
    let settled = false;
    this.handler({
      msg,
      ack: () => {
        if (settled) return;
        settled = true;
        const now = this.parts.get(m.partition);
        if (now?.epoch === epoch) now.offsets.settle(m.offset);
      },
      nack: (err) => {
        if (settled) return;
        settled = true;
        this.nack(m.partition, m.offset, epoch, err);
      },
    });
  }

  /** Reads the partition again from `offset`: later records taken are dropped and come again. */
  private nack(partition: number, offset: number, epoch: number, err: Error): void {
    this.counts.nacked++;
    const p = this.parts.get(partition);
    if (!p || p.epoch !== epoch || !this.running) return; // not ours any more, or stopping: not committed
    // Earlier records stay tracked (a commit never passes them); an ack of a dropped later one
    // only says it is durable already, which its next delivery will say again.
    p.offsets.rewind(offset);
    p.seekTo = offset;
    this.log.warn({ source: this.name, partition, offset, err: err.message }, 'record handed back: seeking back to read it again');
    this.c.seek({ topic: this.opts.topic, partition, offset }, 5000, (e) => {
      if (e) this.log.error({ source: this.name, partition, err: e.message }, 'seek failed');
    });
  }

  /** Commits the settled offsets of every owned partition (or of `only`). */
  private async commit(only?: number[]): Promise<void> {
    if (!this.connected || this.committing) return;
    this.committing = true;
    try {
      const offsets: { topic: string; partition: number; offset: number }[] = [];
      for (const [partition, p] of this.parts) {
        if (only && !only.includes(partition)) continue;
        const offset = p.offsets.committable();
        if (offset !== undefined) offsets.push({ topic: this.opts.topic, partition, offset });
      }
      if (!offsets.length) return;
      await this.opts.beforeCommit?.();
      const started = Date.now();
      this.c.commitSync(offsets);
      this.commitMs.push(Date.now() - started);
      if (this.commitMs.length > 100) this.commitMs.shift();
      this.counts.commits++;
      for (const o of offsets) {
        const p = this.parts.get(o.partition);
        if (p) p.offsets.committed = o.offset;
      }
    } catch (e) {
      this.counts.commitErrors++;
      this.log.warn({ source: this.name, err: (e as Error).message }, 'offset commit failed; retried at the next one');
    } finally {
      this.committing = false;
    }
  }

  /**
   * Eager protocol: every rebalance revokes all partitions, then assigns the new set.
   * Cooperative (cooperative-sticky, the default): only the partitions that move are revoked
   * or added, so the others go on reading. `onAssign` always gets the whole set owned.
   */
  private rebalance(err: LibrdKafkaError, assignment: Assignment[]): void {
    this.counts.rebalances++;
    const partitions = assignment.map((a) => a.partition);
    const cooperative = this.c.rebalanceProtocol() === 'COOPERATIVE';
    const owns = async (owned: number[]) => this.opts.onAssign?.(owned).catch((e: Error) => this.log.error({ source: this.name, err: e.message }, 'restoring assigned partitions failed; starting cold'));
    const step = async () => {
      if (err.code === ASSIGN) {
        this.log.info({ source: this.name, partitions, cooperative }, 'partitions assigned');
        await owns(cooperative ? [...new Set([...this.parts.keys(), ...partitions])] : partitions);
        for (const partition of partitions) if (!this.parts.has(partition)) this.parts.set(partition, { offsets: new PartitionOffsets(), epoch: ++this.epochs });
        if (this.connected) {
          if (cooperative) this.c.incrementalAssign(assignment);
          else this.c.assign(assignment);
          this.learnCommitted(partitions);
        }
        if (this.paused) this.c.pause(this.assigned());
      } else if (err.code === REVOKE) {
        this.log.info({ source: this.name, partitions, cooperative }, 'partitions revoked');
        await this.drain(partitions, 3000);
        while (this.committing) await sleep(10);
        await this.commit(partitions);
        for (const partition of partitions) this.parts.delete(partition);
        await this.opts.onRevoke?.(partitions).catch((e: Error) => this.log.error({ source: this.name, err: e.message }, 'checkpoint before revoke failed'));
        if (!this.connected) return;
        if (cooperative) {
          this.c.incrementalUnassign(assignment);
          await owns([...this.parts.keys()]); // what was given up is forgotten now
        } else this.c.unassign();
      } else this.log.error({ source: this.name, err: err.message }, 'rebalance error');
    };
    this.rebalancing = this.rebalancing.then(step, step);
  }

  /** The group's committed offsets of newly assigned partitions: where reading starts, for the lag until then. */
  private learnCommitted(partitions: number[]): void {
    this.c.committed(partitions.map((partition) => ({ topic: this.opts.topic, partition })), 5000, (err, tps) => {
      if (err) return;
      for (const tp of tps) {
        const p = this.parts.get(tp.partition);
        if (p && tp.offset >= 0 && p.offsets.committed < 0) p.offsets.committed = tp.offset;
      }
    });
  }

  /** Waits (at most `ms`) for the taken records of `partitions` to settle, so less is read twice. */
  private async drain(partitions: number[], ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && partitions.some((p) => (this.parts.get(p)?.offsets.unsettled ?? 0) > 0)) await sleep(20);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
