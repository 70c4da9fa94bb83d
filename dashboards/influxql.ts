import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

/**
 * The Grafana InfluxDB data source's query model in InfluxQL mode (raw query text). The SDK has
 * builders for Prometheus, Loki and others but none for InfluxDB; this fills the gap.
 */
export interface InfluxQLDataquery extends cog.Dataquery {
  refId: string;
  datasource?: DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table' | 'logs';
  /** Series name pattern, e.g. `$tag_region`. */
  alias?: string;
  hide?: boolean;
  /**
   * Annotation queries only: the InfluxDB data source's field mappings (its annotation editor's
   * Text, Tags, Title, TimeEnd), which name result columns; tags may be a comma-separated list.
   */
  fromAnnotations?: true;
  textEditor?: true;
  textColumn?: string;
  tagsColumn?: string;
  titleColumn?: string;
  timeEndColumn?: string;
}

const ident = (name: string) => `"${name.replace(/(["\\])/g, '\\$1')}"`;
const literal = (v: string) => `'${v.replace(/(['\\])/g, '\\$1')}'`;

export type Aggregate = 'mean' | 'median' | 'sum' | 'count' | 'min' | 'max' | 'last' | 'first' | 'spread' | 'stddev' | 'distinct';

/** One term of a SELECT list. */
interface Term {
  expr: string;
  alias?: string;
}

/**
 * A typed InfluxQL SELECT, rendered with Grafana's macros (`$timeFilter`, `$__interval`) and
 * template variables matched as regexes (`"region" =~ /^$region$/`), which is how Grafana
 * expands multi-value and All selections.
 */
export class Select {
  private terms: Term[] = [];
  private conditions: string[] = [];
  private groups: string[] = [];
  private time?: string;
  private fillWith?: string;
  private order?: 'DESC';
  private max?: number;
  private withTimeFilter = true;

  private constructor(private readonly source: string) {}

  /** FROM a measurement. */
  static from(measurement: string): Select {
    return new Select(ident(measurement));
  }

  /** FROM a subquery (e.g. the newest value per series, then summed). */
  static fromSubquery(inner: Select): Select {
    return new Select(`(${inner.toString()})`);
  }

  /** `aggregate("field")`, optionally scaled: `scale` is appended as is, e.g. `/ 1000`. */
  agg(fn: Aggregate, field: string, alias?: string, scale?: string): this {
    this.terms.push({ expr: `${fn}(${ident(field)})${scale ? ` ${scale}` : ''}`, alias: alias ?? field });
    return this;
  }

  /** Per second over the panel interval: `sum("field") / ($__interval_ms / 1000)`. */
  perSecond(field: string, alias?: string): this {
    this.terms.push({ expr: `sum(${ident(field)}) / ($__interval_ms / 1000)`, alias: alias ?? field });
    return this;
  }

  /** A raw field or tag, for table queries without GROUP BY time. */
  column(name: string, alias?: string): this {
    this.terms.push({ expr: ident(name), alias });
    return this;
  }

  /** Any InfluxQL expression over aggregates, e.g. a ratio of two spreads. */
  expr(expr: string, alias: string): this {
    this.terms.push({ expr, alias });
    return this;
  }

  /** `"tag" = 'value'` */
  whereEq(tag: string, value: string): this {
    this.conditions.push(`${ident(tag)} = ${literal(value)}`);
    return this;
  }

  /** `"tag" != 'value'` */
  whereNot(tag: string, value: string): this {
    this.conditions.push(`${ident(tag)} != ${literal(value)}`);
    return this;
  }

  /** `"tag" =~ /^$variable$/`: the tag matches the dashboard variable's selection. */
  whereVar(tag: string, variable = tag): this {
    this.conditions.push(`${ident(tag)} =~ /^$${variable}$/`);
    return this;
  }

  /** `"tag" =~ /regex/` */
  whereRegex(tag: string, regex: string): this {
    this.conditions.push(`${ident(tag)} =~ /${regex.replace(/\//g, '\\/')}/`);
    return this;
  }

  /** `time > now() - <duration>`: only points written for the recent past and the future. */
  notOlderThan(duration: string): this {
    if (!/^\d+[smhdw]$/.test(duration)) throw new Error(`not an InfluxQL duration: ${duration}`);
    this.conditions.push(`time > now() - ${duration}`);
    return this;
  }

  /** Leaves out `$timeFilter` (only for queries that must see all time, such as totals). */
  allTime(): this {
    this.withTimeFilter = false;
    return this;
  }

  groupByTime(interval = '$__interval'): this {
    this.time = interval;
    return this;
  }

  groupBy(...tags: string[]): this {
    this.groups.push(...tags);
    return this;
  }

  fill(value: 'null' | 'none' | 'previous' | 'linear' | '0'): this {
    this.fillWith = value;
    return this;
  }

  newestFirst(): this {
    this.order = 'DESC';
    return this;
  }

  limit(n: number): this {
    this.max = n;
    return this;
  }

  toString(): string {
    if (!this.terms.length) throw new Error(`SELECT from ${this.source} has no terms`);
    const where = [...this.conditions, ...(this.withTimeFilter ? ['$timeFilter'] : [])];
    const group = [...(this.time ? [`time(${this.time})`] : []), ...this.groups.map(ident)];
    return [
      `SELECT ${this.terms.map((t) => (t.alias ? `${t.expr} AS ${ident(t.alias)}` : t.expr)).join(', ')}`,
      `FROM ${this.source}`,
      where.length ? `WHERE ${where.join(' AND ')}` : '',
      group.length ? `GROUP BY ${group.join(', ')}` : '',
      this.fillWith ? `fill(${this.fillWith})` : '',
      this.order ? `ORDER BY time ${this.order}` : '',
      this.max ? `LIMIT ${this.max}` : '',
    ]
      .filter(Boolean)
      .join(' ');
  }
}

/** Builds an InfluxQL target for a panel or an annotation (cog.Builder of the SDK). */
export class InfluxQLQuery implements cog.Builder<cog.Dataquery> {
  private readonly q: InfluxQLDataquery;

  constructor(query: Select | string) {
    this.q = { refId: 'A', query: query.toString(), rawQuery: true, resultFormat: 'time_series', _implementsDataqueryVariant() {} };
  }

  refId(refId: string): this {
    this.q.refId = refId;
    return this;
  }

  datasource(ref: DataSourceRef): this {
    this.q.datasource = ref;
    return this;
  }

  alias(alias: string): this {
    this.q.alias = alias;
    return this;
  }

  /** Makes this an annotation query: which result columns are the event's text, tags and title. */
  annotationColumns(c: { text: string; tags?: string[]; title?: string; timeEnd?: string }): this {
    Object.assign(this.q, { fromAnnotations: true, textEditor: true, resultFormat: 'table', textColumn: c.text });
    if (c.tags?.length) this.q.tagsColumn = c.tags.join(',');
    if (c.title) this.q.titleColumn = c.title;
    if (c.timeEnd) this.q.timeEndColumn = c.timeEnd;
    return this;
  }

  format(resultFormat: InfluxQLDataquery['resultFormat']): this {
    this.q.resultFormat = resultFormat;
    return this;
  }

  build(): InfluxQLDataquery {
    return { ...this.q };
  }
}
