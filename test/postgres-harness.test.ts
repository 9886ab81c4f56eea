import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, postgresForTests, startPostgres, type Postgres } from './support/postgres.js';

async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function tableExists(url: string, table: string): Promise<boolean> {
  return withClient(url, async (client) => {
    const res = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [
      table,
    ]);
    return res.rows[0]?.found === true;
  });
}

const pg = postgresForTests();

describe.skipIf(!pg.available && !pg.required)('PostgreSQL test harness', () => {
  it('when two tests each take a fresh database, then a table created in one is absent in the other', async () => {
    const first = await freshPostgresDatabase('harness_first');
    const second = await freshPostgresDatabase('harness_second');
    if (first === undefined || second === undefined) throw new Error('no shared PostgreSQL cluster');
    expect(first).not.toBe(second);

    await withClient(first, (client) => client.query('CREATE TABLE only_in_first (id int)'));

    expect(await tableExists(first, 'only_in_first')).toBe(true);
    expect(await tableExists(second, 'only_in_first')).toBe(false);
  });

  describe('a separately started cluster', () => {
    let cluster: Postgres | undefined;
    beforeAll(async () => {
      cluster = await startPostgres();
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it('when it is killed and restarted, then committed data is still there on the same URL', async () => {
      if (cluster === undefined) throw new Error('cluster did not start');
      const db = await cluster.createDatabase('harness_restart');
      await withClient(db, async (client) => {
        await client.query('CREATE TABLE readings (id int PRIMARY KEY, value text)');
        await client.query("INSERT INTO readings VALUES (1, 'committed before the crash')");
      });

      await cluster.kill();
      await expect(withClient(db, (client) => client.query('SELECT 1'))).rejects.toThrow();
      await cluster.restart();

      const rows = await withClient(db, async (client) => {
        const res = await client.query<{ value: string }>('SELECT value FROM readings WHERE id = 1');
        return res.rows;
      });
      expect(rows).toEqual([{ value: 'committed before the crash' }]);
    });
  });
});
