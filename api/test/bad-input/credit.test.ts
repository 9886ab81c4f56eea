/** Bad input on the credit routes: borrower figures, the lending policy, applications, decisions, reviews. */
import { badInputSuite, type Case, SQL, SQLQ } from './support.js';

const CASES: Case[] = [
  // Credit: borrower figures, the lending policy, applications, recommendations, decisions, reviews.
  {
    route: 'GET /v1/borrowers/:id/credit',
    url: `/v1/borrowers/${SQLQ}/credit`,
    status: 400,
    what: 'SQL in id',
  },
  {
    route: 'GET /v1/borrowers/:id/credit',
    url: '/v1/borrowers/b-none/credit',
    status: 404,
    what: 'unknown borrower',
  },
  { route: 'PUT /v1/policy', url: '/v1/policy', status: 400, what: 'empty body', payload: {} },
  {
    route: 'PUT /v1/policy',
    url: '/v1/policy',
    status: 400,
    what: 'a string as policy',
    raw: '"lend to all"',
    contentType: 'application/json',
  },
  ...(['POST /v1/applications', 'POST /v1/recommendations'] as const).flatMap((route) => {
    const url = route.split(' ')[1] as string;
    const good = { borrowerId: 'b1', amount: 1000, currency: 'EUR', tenorDays: 90 };
    return [
      { route, url, status: 400, what: 'a negative amount', payload: { ...good, amount: -5 } },
      { route, url, status: 400, what: 'a lower-case currency', payload: { ...good, currency: 'eur' } },
      { route, url, status: 400, what: 'SQL as borrower id', payload: { ...good, borrowerId: SQL } },
      { route, url, status: 400, what: 'an unknown field', payload: { ...good, rate: 0.1 } },
    ];
  }),
  { route: 'GET /v1/applications', url: '/v1/applications?sort=risk', status: 400, what: 'an unknown sort' },
  {
    route: 'GET /v1/applications',
    url: '/v1/applications?status=lost',
    status: 400,
    what: 'an unknown status',
  },
  {
    route: 'GET /v1/applications',
    url: `/v1/applications?sort=amount&cursor=${Buffer.from(JSON.stringify(['age', 1, 'app_1'])).toString('base64url')}`,
    status: 400,
    what: 'a cursor of another sort',
  },
  {
    route: 'GET /v1/applications',
    url: `/v1/applications?sort=age&cursor=${Buffer.from(JSON.stringify(['age', 'DROP TABLE', 'app_1'])).toString('base64url')}`,
    status: 400,
    what: 'a cursor whose key is not a number',
  },
  { route: 'GET /v1/applications/:id', url: `/v1/applications/${SQLQ}`, status: 400, what: 'SQL in id' },
  { route: 'GET /v1/applications/:id', url: '/v1/applications/app_none', status: 404, what: 'unknown id' },
  {
    route: 'POST /v1/applications/:id/decisions',
    url: '/v1/applications/app_none/decisions',
    status: 400,
    what: 'an unknown outcome',
    payload: { outcome: 'maybe' },
    role: 'approver',
  },
  {
    route: 'POST /v1/applications/:id/decisions',
    url: '/v1/applications/app_none/decisions',
    status: 404,
    what: 'unknown id',
    payload: { outcome: 'refer' },
    role: 'approver',
  },
  {
    route: 'POST /v1/reviews/:id/close',
    url: `/v1/reviews/${SQLQ}/close`,
    status: 400,
    what: 'SQL in id',
    payload: {},
  },
  {
    route: 'POST /v1/reviews/:id/close',
    url: '/v1/reviews/rev_none/close',
    status: 404,
    what: 'unknown id',
    payload: {},
  },
];

badInputSuite('credit', CASES);
