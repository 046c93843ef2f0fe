// Type declarations for godwit.js, the godwit JavaScript plugin SDK. Plugins import it as
// 'godwit-sdk'; build.sh points that name at the SDK's godwit.js.
declare module 'godwit-sdk' {
  /** The version of the `godwit:plugin` WIT package this SDK targets. */
  export const API_VERSION: string;

  /** A JSON document: `text` is its serialised form. */
  export class Json {
    constructor(text: string);
    readonly text: string;
    parse(): unknown;
  }

  /** An RFC 3339 timestamp such as `2026-11-21T08:00:00Z`. */
  export class Timestamp {
    constructor(text: string);
    readonly text: string;
    toDate(): Date;
  }

  /** A SQL value as the SDK hands it to you. */
  export type SqlValue = null | boolean | number | bigint | string | Uint8Array | Json | Timestamp;
  /** A SQL value as you may send it: integers become `int`, other numbers `float`. */
  export type SqlInput = SqlValue | undefined | Date | ArrayBuffer | WitValue;

  /** The WIT `value` variant, as componentize-js represents it. */
  export type WitValue =
    | { tag: 'null' }
    | { tag: 'boolean'; val: boolean }
    | { tag: 'int'; val: bigint }
    | { tag: 'float'; val: number }
    | { tag: 'text' | 'json' | 'timestamp'; val: string }
    | { tag: 'bytes'; val: Uint8Array };
  export interface WitColumn {
    name: string;
    value: WitValue;
  }

  /** A `json` value: a string is taken as serialised JSON, anything else is stringified. */
  export function json(value: unknown): Json;
  /** A `timestamp` value from a Date or an RFC 3339 string. */
  export function timestamp(value: Date | string): Timestamp;
  export function toValue(v: SqlInput): WitValue;
  export function fromValue(v: WitValue): SqlValue;

  /**
   * A row: its columns by name. Typed getters return null for SQL NULL or a missing
   * column, and throw a TypeError when the column holds another type.
   */
  export class Row {
    constructor(columns?: WitColumn[]);
    readonly columns: WitColumn[];
    static from(r: Row | WitColumn[] | Map<string, SqlInput> | Record<string, SqlInput>): Row;
    value(name: string): WitValue | undefined;
    has(name: string): boolean;
    /** The column's value, or undefined when the row has no such column. */
    get(name: string): SqlValue | undefined;
    /** The column's value; throws when the row has no such column. */
    require(name: string): SqlValue;
    /** A `text`, `json` or `timestamp` column's text. */
    text(name: string): string | null;
    int(name: string): number | bigint | null;
    /** A `float`, or an `int` as a number. */
    float(name: string): number | null;
    bool(name: string): boolean | null;
    bytes(name: string): Uint8Array | null;
    /** A `json` column, parsed. */
    json(name: string): unknown;
    timestamp(name: string): Date | null;
    toObject(): Record<string, SqlValue>;
    toWit(): WitColumn[];
  }
  /** A row to return: `row({ id: 7, email: 'a@example.com' })`. */
  export function row(object: Record<string, SqlInput> | Map<string, SqlInput>): Row;
  /** What `transform` may return for a row. */
  export type RowInput = Row | Record<string, SqlInput> | Map<string, SqlInput> | WitColumn[];

  type LogFn = (...args: unknown[]) => void;
  /** Write to godwit's log under the plugin's name; arguments are joined like console.log. */
  export const log: { trace: LogFn; debug: LogFn; info: LogFn; warn: LogFn; error: LogFn };

  /** The plugin's settings; every getter returns `fallback` when the setting is missing or NULL. */
  export const config: {
    all(): Record<string, SqlValue>;
    get<T = undefined>(key: string, fallback?: T): SqlValue | T;
    /** As text; numbers and booleans in their usual spelling. */
    string<T = undefined>(key: string, fallback?: T): string | T;
    requireString(key: string): string;
    /** true/false, also as text; throws on anything else. */
    boolean<T = undefined>(key: string, fallback?: T): boolean | T;
    /** An integer, also as text; throws on anything else. */
    integer<T = undefined>(key: string, fallback?: T): number | bigint | T;
    /** Comma-separated, trimmed, empty items dropped. */
    list(key: string): string[];
  };

  /** The message of anything thrown. */
  export function errorMessage(e: unknown): string;

  /** Thrown when the host refuses a session call; `message` says why. */
  export class HostError extends Error {}

  /** The connection the host lends to one call, inside the host's transaction. */
  export class Session {
    /** Runs a read-only statement with `$1`-style parameters. */
    query(sql: string, params?: SqlInput[]): Row[];
    /** Runs a statement; refused unless the plugin was granted writes. Returns rows affected. */
    execute(sql: string, params?: SqlInput[]): number;
  }

  export type Severity = 'info' | 'warning' | 'error';
  export interface Finding {
    rule: string;
    severity: Severity;
    message: string;
    location?: string;
    help?: string;
  }
  export interface FindingExtra {
    location?: string | null;
    help?: string | null;
  }
  export const Finding: {
    of(rule: string, severity: Severity | 'warn', message: string, extra?: FindingExtra): Finding;
    info(rule: string, message: string, extra?: FindingExtra): Finding;
    warning(rule: string, message: string, extra?: FindingExtra): Finding;
    error(rule: string, message: string, extra?: FindingExtra): Finding;
  };

  export interface BackfillSpec {
    table: string;
    /** The column (or comma-separated columns) the host pages by; default `id`. */
    key?: string;
    /** Columns handed to transform, besides the key. */
    reads?: string[];
    /** Columns transform may set. */
    writes?: string[];
    /** A SQL boolean expression selecting the rows still to do. */
    filter?: string | null;
    /** Default 1000. */
    batchSizeHint?: number;
  }
  export function spec(s: BackfillSpec): Required<Omit<BackfillSpec, 'filter'>> & { filter?: string };

  export interface Migration {
    version: string;
    name: string;
    upSql: string;
    /** null when the migration has no down.sql. */
    downSql: string | null;
  }

  export interface BatchResult {
    /** Where to resume; godwit checkpoints it after committing. */
    nextCursor?: string | number | null;
    /** Rows the batch touched. */
    rows?: number | bigint;
    /** No more batches to run. */
    done: boolean;
  }

  export type Event =
    | { type: 'run-started'; operation: string; pending: number; database: string }
    | { type: 'run-finished'; operation: string; applied: number; failed: string | null; durationMs: number }
    | { type: 'migration-started'; version: string; name: string; /** `sql` or `step`. */ kind: string; operation: string }
    | { type: 'migration-applied'; version: string; name: string; operation: string; durationMs: number; rowsAffected: number }
    | { type: 'migration-failed'; version: string; name: string; error: string }
    | { type: 'batch-progress'; version: string; batches: number; rows: number; total: number | null; rate: number }
    | { type: 'findings-reported'; source: string; findings: Finding[]; blocking: boolean }
    | { type: 'backup-taken'; id: string; size: number }
    | { type: 'rolled-back'; version: string | null; reason: string; backupId: string | null }
    | { type: 'step-paused'; version: string; reason: PauseReason; message: string; pausedMs: number; maxPauseMs: number }
    | { type: 'step-resumed'; version: string; pausedMs: number; reason: PauseReason };
  /** Why a step holds its batches back. */
  export type PauseReason =
    | { tag: 'replication-lag'; val: { replica: string; lagMs: number; boundMs: number } }
    | { tag: 'lag-unknown'; val: { replica: string; why: string } }
    | { tag: 'health-query'; val: string };
  export const EVENT_TYPES: Event['type'][];

  /** The `backfill` world: `export const { describe, transform } = backfill({...})`. */
  export function backfill(plugin: {
    describe(): BackfillSpec;
    transform(rows: Row[]): Iterable<RowInput>;
  }): { describe(): unknown; transform(rows: WitColumn[][]): WitColumn[][] };

  /** The `data-step` world: `export const { runBatch } = dataStep({...})`. */
  export function dataStep(plugin: {
    runBatch(session: Session, cursor: string | null, size: number): BatchResult;
  }): { runBatch(session: unknown, cursor: string | undefined, size: number): unknown };

  /** The `validator` world: `export const { checkMigration, checkDatabase } = validator({...})`. */
  export function validator(plugin: {
    checkMigration(m: Migration): Iterable<Finding>;
    checkDatabase?(session: Session): Iterable<Finding>;
  }): { checkMigration(m: unknown): Finding[]; checkDatabase(session: unknown): Finding[] };

  /** The `notifier` world: `export const { notify } = notifier({...})`. */
  /** `target` is the fleet target's name under `godwit deploy --targets FILE`, else null. */
  export function notifier(plugin: { notify(event: Event, target: string | null): void }): {
    notify(e: unknown, target: string | undefined): void;
  };
}
