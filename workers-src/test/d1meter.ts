// A D1 binding wrapper for the tests: every round trip (a statement run
// alone, or a db.batch) logged with its SQL, its results and the rows D1
// counted (meta.rows_read, meta.rows_written: what D1 bills), in the order
// they came back. Optionally fails every call (as D1 fails once a free daily
// limit runs out).

export interface D1Trip {
  /** the statements' SQL */
  sql: string[];
  results: Array<Record<string, unknown>[]>;
  rows_read: number;
  rows_written: number;
  /** completion order */
  seq: number;
}

class Stmt {
  constructor(
    readonly meter: D1Meter,
    readonly real: D1PreparedStatement,
    readonly sql: string,
  ) {}
  bind(...values: unknown[]): Stmt {
    return new Stmt(this.meter, this.real.bind(...values), this.sql);
  }
  async all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    const [r] = await this.meter.trip([this], () => this.real.all<T>().then((x) => [x as D1Result<unknown>]));
    return r as D1Result<T>;
  }
  async run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return this.all<T>();
  }
  async first<T = Record<string, unknown>>(): Promise<T | null> {
    const r = await this.all<T>();
    return (r.results[0] as T) ?? null;
  }
  async raw(): Promise<unknown[]> {
    throw new Error("D1Meter: raw() is not wrapped");
  }
}

export class D1Meter {
  readonly trips: D1Trip[] = [];
  fail = false;
  /** called after each trip */
  onTrip?: (t: D1Trip) => void;
  private seq = 0;
  constructor(readonly real: D1Database) {}

  /** The binding to put in an env as SPEND. */
  get binding(): D1Database {
    const self = this;
    return {
      prepare: (sql: string) => new Stmt(self, self.real.prepare(sql), sql),
      batch: (stmts: Stmt[]) => self.trip(stmts, () => self.real.batch(stmts.map((s) => s.real))),
      exec: (sql: string) => self.real.exec(sql),
      dump: () => self.real.dump(),
      withSession: () => {
        throw new Error("D1Meter: withSession is not wrapped");
      },
    } as unknown as D1Database;
  }

  async trip(stmts: Stmt[], f: () => Promise<D1Result<unknown>[]>): Promise<D1Result<unknown>[]> {
    if (this.fail) throw new Error("D1_ERROR: daily limit exceeded (injected by the test)");
    const res = await f();
    const trip: D1Trip = {
      sql: stmts.map((s) => s.sql),
      results: res.map((r) => (r.results ?? []) as Record<string, unknown>[]),
      rows_read: res.reduce((n, r) => n + (r.meta?.rows_read ?? 0), 0),
      rows_written: res.reduce((n, r) => n + (r.meta?.rows_written ?? 0), 0),
      seq: this.seq++,
    };
    this.trips.push(trip);
    this.onTrip?.(trip);
    return res;
  }

  /** Rows read and written over every trip. */
  totals(): { trips: number; rows_read: number; rows_written: number } {
    return {
      trips: this.trips.length,
      rows_read: this.trips.reduce((n, t) => n + t.rows_read, 0),
      rows_written: this.trips.reduce((n, t) => n + t.rows_written, 0),
    };
  }

  reset(): void {
    this.trips.length = 0;
  }
}
