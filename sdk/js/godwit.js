// Write godwit plugins in JavaScript.
//
// A plugin is one ES module that imports this file and exports the functions of one
// world, built with `world helpers` below:
//
//   import { backfill, config } from './.godwit-sdk/godwit.js';
//   export const { describe, transform } = backfill({
//     describe: () => ({ table: config.string('table', 'users'), key: 'id',
//                        reads: ['email'], writes: ['email_normalized'] }),
//     transform: (rows) => rows.map((r) => ({ id: r.require('id'),
//                                              email_normalized: r.text('email')?.toLowerCase() ?? null })),
//   });
//
// build.sh bundles the plugin with this module (esbuild) and turns the bundle into a
// WebAssembly component (componentize-js). Every call runs in a fresh instance: nothing
// kept in a module-level variable survives to the next call.
//
// Values: SQL values are plain JS values both ways. `null` is SQL NULL, booleans are
// `boolean`, integers are `number` (a `bigint` when outside Number's safe range; a bigint
// you pass is an int too), other numbers are `float`, strings are `text`, Uint8Array is
// `bytes`; json and timestamp values arrive as `Json` and `Timestamp` objects, and you
// send them with `json(...)` and `timestamp(...)` (a Date is a timestamp too).

import * as host from 'godwit:plugin/host@0.2.0';

/** The version of the `godwit:plugin` WIT package this SDK targets. */
export const API_VERSION = '0.2.0';

const S64_MIN = -(2n ** 63n);
const S64_MAX = 2n ** 63n - 1n;
const TAGS = new Set(['null', 'boolean', 'int', 'float', 'text', 'bytes', 'json', 'timestamp']);

// ---------------------------------------------------------------------------------------
// Values

/** A JSON document; `text` is its serialised form, `parse()` its value. */
export class Json {
  constructor(text) {
    this.text = text;
  }
  parse() {
    return JSON.parse(this.text);
  }
  toString() {
    return this.text;
  }
  toJSON() {
    return this.parse();
  }
}

/** An RFC 3339 timestamp such as `2026-11-21T08:00:00Z`; `toDate()` parses it. */
export class Timestamp {
  constructor(text) {
    this.text = text;
  }
  toDate() {
    return new Date(this.text);
  }
  toString() {
    return this.text;
  }
  toJSON() {
    return this.text;
  }
}

/**
 * A `json` value: a string is taken as already serialised JSON, anything else is
 * serialised with JSON.stringify.
 */
export function json(value) {
  if (value instanceof Json) return value;
  return new Json(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A `timestamp` value from a Date or an RFC 3339 string. */
export function timestamp(value) {
  if (value instanceof Timestamp) return value;
  if (value instanceof Date) return new Timestamp(value.toISOString());
  if (typeof value === 'string') return new Timestamp(value);
  throw new TypeError(`timestamp() takes a Date or an RFC 3339 string, not ${describeType(value)}`);
}

function describeType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return `a ${typeof v}`;
}

/** Converts a JS value to the WIT `value` variant (`{tag, val}`). */
export function toValue(v) {
  if (v === null || v === undefined) return { tag: 'null' };
  switch (typeof v) {
    case 'boolean':
      return { tag: 'boolean', val: v };
    case 'number':
      if (Number.isInteger(v)) {
        const b = BigInt(v);
        if (b >= S64_MIN && b <= S64_MAX) return { tag: 'int', val: b };
      }
      return { tag: 'float', val: v };
    case 'bigint':
      if (v < S64_MIN || v > S64_MAX) throw new RangeError(`${v} does not fit in a 64-bit int`);
      return { tag: 'int', val: v };
    case 'string':
      return { tag: 'text', val: v };
  }
  if (v instanceof Uint8Array) return { tag: 'bytes', val: v };
  if (v instanceof ArrayBuffer) return { tag: 'bytes', val: new Uint8Array(v) };
  if (v instanceof Json) return { tag: 'json', val: v.text };
  if (v instanceof Timestamp) return { tag: 'timestamp', val: v.text };
  if (v instanceof Date) return { tag: 'timestamp', val: v.toISOString() };
  if (typeof v === 'object' && TAGS.has(v.tag)) return v; // already a WIT value
  throw new TypeError(
    `cannot send ${describeType(v)} as a SQL value: use null, a boolean, number, bigint, ` +
      'string, Uint8Array, json(...) or timestamp(...)',
  );
}

/** Converts a WIT `value` variant to a JS value (see the top of this file). */
export function fromValue(v) {
  switch (v.tag) {
    case 'null':
      return null;
    case 'int': {
      const n = BigInt(v.val);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'json':
      return new Json(v.val);
    case 'timestamp':
      return new Timestamp(v.val);
    case 'bytes':
      return v.val instanceof Uint8Array ? v.val : Uint8Array.from(v.val);
    default:
      return v.val;
  }
}

// ---------------------------------------------------------------------------------------
// Rows

/**
 * A row as the host sent it: its columns by name, with typed getters. `get` gives the
 * JS value (undefined when the row has no such column); the typed getters give `null`
 * for SQL NULL or a missing column and throw a TypeError when the column holds another
 * type.
 */
export class Row {
  constructor(columns = []) {
    /** The columns as the WIT sends them: `{name, value: {tag, val}}`. */
    this.columns = columns;
  }

  /** A Row from a plain object, a Map, a Row or a WIT row. */
  static from(r) {
    if (r instanceof Row) return r;
    if (Array.isArray(r)) return new Row(r.map((c) => ({ name: c.name, value: toValue(c.value) })));
    const entries = r instanceof Map ? [...r.entries()] : Object.entries(r);
    return new Row(entries.map(([name, value]) => ({ name, value: toValue(value) })));
  }

  /** The raw WIT value of a column, or undefined. */
  value(name) {
    return this.columns.find((c) => c.name === name)?.value;
  }
  has(name) {
    return this.value(name) !== undefined;
  }
  /** The column's JS value, or undefined when the row has no such column. */
  get(name) {
    const v = this.value(name);
    return v === undefined ? undefined : fromValue(v);
  }
  /** The column's JS value; throws when the row has no such column. */
  require(name) {
    const v = this.value(name);
    if (v === undefined) throw new Error(`the host sent a row without column \`${name}\``);
    return fromValue(v);
  }
  /** The text of a `text`, `json` or `timestamp` column. */
  text(name) {
    return this.#typed(name, 'text', ['text', 'json', 'timestamp'], (v) => v.val);
  }
  /** An `int` column, as a number (a bigint outside the safe range). */
  int(name) {
    return this.#typed(name, 'int', ['int'], fromValue);
  }
  /** A `float` column, or an `int` widened to a number. */
  float(name) {
    return this.#typed(name, 'float', ['float', 'int'], (v) => Number(v.val));
  }
  bool(name) {
    return this.#typed(name, 'boolean', ['boolean'], (v) => v.val);
  }
  bytes(name) {
    return this.#typed(name, 'bytes', ['bytes'], fromValue);
  }
  /** A `json` column, parsed. */
  json(name) {
    return this.#typed(name, 'json', ['json'], (v) => JSON.parse(v.val));
  }
  /** A `timestamp` column, as a Date. */
  timestamp(name) {
    return this.#typed(name, 'timestamp', ['timestamp'], (v) => new Date(v.val));
  }
  /** The row as a plain object of JS values. */
  toObject() {
    return Object.fromEntries(this.columns.map((c) => [c.name, fromValue(c.value)]));
  }
  toJSON() {
    return this.toObject();
  }
  /** The row as the WIT wants it. */
  toWit() {
    return this.columns;
  }

  #typed(name, want, tags, convert) {
    const v = this.value(name);
    if (v === undefined || v.tag === 'null') return null;
    if (!tags.includes(v.tag)) throw new TypeError(`column \`${name}\` is ${v.tag}, not ${want}`);
    return convert(v);
  }
}

/** Builds a row to return: `row({ id: 7, email: 'a@example.com' })`. */
export function row(object) {
  return Row.from(object);
}

// ---------------------------------------------------------------------------------------
// Log and config

function message(args) {
  return args
    .map((a) => {
      if (typeof a === 'string') return a;
      if (a instanceof Error) return a.stack ? `${a.message}\n${a.stack}` : a.message;
      if (typeof a === 'bigint') return a.toString();
      try {
        return JSON.stringify(a, (_, x) => (typeof x === 'bigint' ? x.toString() : x));
      } catch {
        return String(a);
      }
    })
    .join(' ');
}

/** Write to godwit's log under the plugin's name; arguments are joined like console.log. */
export const log = {
  trace: (...args) => host.log('trace', message(args)),
  debug: (...args) => host.log('debug', message(args)),
  info: (...args) => host.log('info', message(args)),
  warn: (...args) => host.log('warn', message(args)),
  error: (...args) => host.log('error', message(args)),
};

function configEntry(key) {
  const found = host.config().find(([k]) => k === key);
  return found === undefined ? undefined : found[1];
}

/**
 * The plugin's settings: godwit.toml's `[plugins.NAME.config]`, overridden key by key by
 * the running step's `[config]`. Getters take a default for a missing (or NULL) setting.
 */
export const config = {
  /** All settings as an object of JS values. */
  all() {
    return Object.fromEntries(host.config().map(([k, v]) => [k, fromValue(v)]));
  },
  /** The setting's JS value, or `fallback`. */
  get(key, fallback = undefined) {
    const v = configEntry(key);
    return v === undefined || v.tag === 'null' ? fallback : fromValue(v);
  },
  /** The setting as text; numbers and booleans are given in their usual spelling. */
  string(key, fallback = undefined) {
    const v = configEntry(key);
    if (v === undefined || v.tag === 'null' || v.tag === 'bytes') return fallback;
    return String(v.val);
  },
  /** The setting as text; throws when it is not set. */
  requireString(key) {
    const s = config.string(key);
    if (s === undefined) {
      throw new Error(
        `setting \`${key}\` is required: set it in the plugin's [config] in godwit.toml or step.toml`,
      );
    }
    return s;
  },
  /** The setting as a boolean (also `"true"`/`"false"` as text); throws on anything else. */
  boolean(key, fallback = undefined) {
    const v = configEntry(key);
    if (v === undefined || v.tag === 'null') return fallback;
    if (v.tag === 'boolean') return v.val;
    if (v.tag === 'text' && /^(true|false)$/i.test(v.val)) return v.val.toLowerCase() === 'true';
    throw new Error(`setting \`${key}\` must be true or false, not ${JSON.stringify(String(v.val))}`);
  },
  /** The setting as an integer number (also as text); throws on anything else. */
  integer(key, fallback = undefined) {
    const v = configEntry(key);
    if (v === undefined || v.tag === 'null') return fallback;
    if (v.tag === 'int') return fromValue(v);
    if (v.tag === 'text' && /^\s*-?\d+\s*$/.test(v.val)) return Number(v.val.trim());
    throw new Error(`setting \`${key}\` must be an integer, not ${JSON.stringify(String(v.val))}`);
  },
  /** The setting as a comma-separated list, trimmed, empty items dropped. */
  list(key) {
    const s = config.string(key);
    return s === undefined ? [] : s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  },
};

// ---------------------------------------------------------------------------------------
// Errors and the session

/** The message of anything thrown, as the WIT error string. */
export function errorMessage(e) {
  if (e instanceof Error) return e.message || String(e);
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && 'payload' in e) return String(e.payload);
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}

/** What a session call that the host refused throws; `message` is the host's reason. */
export class HostError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HostError';
  }
}

function hostCall(what, f) {
  try {
    return f();
  } catch (e) {
    // componentize-js throws an imported function's `err(string)` as an object whose
    // `payload` is the string.
    throw new HostError(`${what}: ${errorMessage(e)}`);
  }
}

/**
 * The connection the host lends to one call, inside the host's transaction. Parameters
 * are `$1`-style and given as JS values.
 */
export class Session {
  constructor(raw) {
    this.raw = raw;
  }
  /** Runs a read-only statement; returns its rows. */
  query(sql, params = []) {
    const rows = hostCall('query failed', () => this.raw.query(sql, params.map(toValue)));
    return rows.map((r) => new Row(r));
  }
  /** Runs a statement (refused unless the plugin was granted writes); returns rows affected. */
  execute(sql, params = []) {
    const n = hostCall('execute failed', () => this.raw.execute(sql, params.map(toValue)));
    return Number(n);
  }
}

// ---------------------------------------------------------------------------------------
// Findings and the backfill spec

const SEVERITIES = { info: 'info', warning: 'warning', warn: 'warning', error: 'error' };

function findingRecord(f) {
  const severity = SEVERITIES[String(f.severity).trim().toLowerCase()];
  if (severity === undefined) {
    throw new Error(`finding \`${f.rule}\` has severity ${JSON.stringify(f.severity)}: use info, warning or error`);
  }
  return {
    rule: String(f.rule),
    severity,
    message: String(f.message),
    location: f.location == null ? undefined : String(f.location),
    help: f.help == null ? undefined : String(f.help),
  };
}

/**
 * Findings, in the shape of godwit's built-in lint rules:
 * `Finding.error('require-down', 'migration x has no down.sql', { location, help })`.
 */
export const Finding = {
  of(rule, severity, message, { location, help } = {}) {
    return findingRecord({ rule, severity, message, location, help });
  },
  info(rule, message, extra) {
    return Finding.of(rule, 'info', message, extra);
  },
  warning(rule, message, extra) {
    return Finding.of(rule, 'warning', message, extra);
  },
  error(rule, message, extra) {
    return Finding.of(rule, 'error', message, extra);
  },
};

/**
 * A complete backfill spec: `reads` and `writes` default to none, `filter` to none and
 * `batchSizeHint` to 1000.
 */
export function spec({ table, key = 'id', reads = [], writes = [], filter, batchSizeHint = 1000 }) {
  if (!table) throw new Error('the backfill spec needs a `table`');
  return {
    table: String(table),
    key: String(key),
    reads: [...reads].map(String),
    writes: [...writes].map(String),
    filter: filter == null ? undefined : String(filter),
    batchSizeHint: Number(batchSizeHint),
  };
}

// ---------------------------------------------------------------------------------------
// Worlds: each helper returns the functions the world exports, converting values both
// ways and turning anything thrown from a function whose WIT result has an error case
// into that error, carrying the error's message.

function resultOf(f) {
  try {
    return f();
  } catch (e) {
    // componentize-js turns a thrown value into `err(...)`; a string is sent as is.
    throw errorMessage(e);
  }
}

/** The `backfill` world: `export const { describe, transform } = backfill({...})`. */
export function backfill({ describe, transform }) {
  return {
    describe: () => spec(describe()),
    transform: (rows) =>
      resultOf(() => {
        const out = transform(rows.map((r) => new Row(r)));
        return [...out].map((r) => Row.from(r).toWit());
      }),
  };
}

/**
 * The `data-step` world: `export const { runBatch } = dataStep({ runBatch(session, cursor, size) {...} })`.
 * `cursor` is null on the first call; return `{ nextCursor, rows, done }`.
 */
export function dataStep({ runBatch }) {
  return {
    runBatch: (session, cursor, size) =>
      resultOf(() => {
        const r = runBatch(new Session(session), cursor ?? null, size);
        return {
          nextCursor: r.nextCursor == null ? undefined : String(r.nextCursor),
          rows: BigInt(r.rows ?? 0),
          done: Boolean(r.done),
        };
      }),
  };
}

/**
 * The `validator` world: `export const { checkMigration, checkDatabase } = validator({...})`.
 * A migration is `{ version, name, upSql, downSql }` (`downSql` null when absent);
 * `checkDatabase` is optional and finds nothing by default.
 */
export function validator({ checkMigration, checkDatabase = () => [] }) {
  return {
    checkMigration: (m) =>
      [...checkMigration({ version: m.version, name: m.name, upSql: m.upSql, downSql: m.downSql ?? null })].map(
        findingRecord,
      ),
    checkDatabase: (session) => [...checkDatabase(new Session(session))].map(findingRecord),
  };
}

function nativeRecord(val) {
  const out = {};
  for (const [k, v] of Object.entries(val)) {
    if (typeof v === 'bigint') out[k] = Number(v);
    else if (v === undefined) out[k] = null;
    else if (Array.isArray(v)) out[k] = v.map((x) => (x && typeof x === 'object' ? nativeRecord(x) : x));
    else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) out[k] = nativeRecord(v);
    else out[k] = v;
  }
  return out;
}

/**
 * The `notifier` world: `export const { notify } = notifier({ notify(event, target) {...} })`.
 * An event is a plain object: `type` (e.g. `run-started`, as the WIT spells it) and the
 * record's fields in camelCase, u64 as numbers and absent options as null. (Not `kind`:
 * `migration-started` has a field of that name.) A pause's `reason` is `{ tag, val }`.
 * `target` names the database the event is about when `godwit deploy --targets FILE`
 * deploys a fleet (as the targets file names it), and is null when godwit deploys one.
 */
export function notifier({ notify }) {
  return {
    notify: (e, target) =>
      resultOf(() => {
        notify({ ...nativeRecord(e.val), type: e.tag }, target ?? null);
      }),
  };
}

/** Every `type` an event can have. */
export const EVENT_TYPES = [
  'run-started',
  'run-finished',
  'migration-started',
  'migration-applied',
  'migration-failed',
  'batch-progress',
  'findings-reported',
  'backup-taken',
  'rolled-back',
  'step-paused',
  'step-resumed',
];
