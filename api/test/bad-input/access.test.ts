/** Bad input on the loan book, API key and import routes. */
import { badInputSuite, type Case, SQL, SQLQ } from './support.js';

const CASES: Case[] = [
  { route: 'GET /v1/loans/:id', url: `/v1/loans/${SQLQ}`, status: 400, what: 'SQL in id' },
  { route: 'GET /v1/loans/:id', url: '/v1/loans/ln-unknown', status: 404, what: 'unknown id' },
  {
    route: 'GET /v1/loans/:id/repayments',
    url: `/v1/loans/${SQLQ}/repayments`,
    status: 400,
    what: 'SQL in id',
  },
  {
    route: 'GET /v1/loans/:id/repayments',
    url: '/v1/loans/ln-unknown/repayments',
    status: 404,
    what: 'unknown id',
  },
  {
    route: 'POST /v1/api-keys/:id/rotate',
    url: '/v1/api-keys/zzz/rotate',
    status: 400,
    what: 'malformed key id',
  },
  {
    route: 'POST /v1/api-keys/:id/rotate',
    url: '/v1/api-keys/0123456789abcdef/rotate',
    status: 404,
    what: 'unknown key',
  },
  { route: 'DELETE /v1/api-keys/:id', url: `/v1/api-keys/${SQLQ}`, status: 400, what: 'SQL in key id' },
  {
    route: 'DELETE /v1/api-keys/:id',
    url: '/v1/api-keys/0123456789abcdef',
    status: 404,
    what: 'unknown key',
  },
  { route: 'GET /v1/loans', url: '/v1/loans?status=late', status: 400, what: 'unknown loan status' },
  {
    route: 'POST /v1/imports/loans',
    url: '/v1/imports/loans?mode=yolo',
    status: 400,
    what: 'unknown mode',
    payload: { items: [{}] },
  },
  { route: 'POST /v1/api-keys', url: '/v1/api-keys', status: 400, what: 'empty body', payload: {} },
  {
    route: 'POST /v1/api-keys',
    url: '/v1/api-keys',
    status: 400,
    what: 'unknown role',
    payload: { name: 'x', role: 'root' },
  },
  {
    route: 'POST /v1/api-keys',
    url: '/v1/api-keys',
    status: 400,
    what: 'empty name',
    payload: { name: '', role: 'officer' },
  },
  { route: 'POST /v1/imports/loans', url: '/v1/imports/loans', status: 400, what: 'no items', payload: {} },
  {
    route: 'POST /v1/imports/loans',
    url: '/v1/imports/loans',
    status: 400,
    what: 'malformed JSON',
    raw: '{"items":[',
    contentType: 'application/json',
  },
  {
    route: 'POST /v1/imports/loans',
    url: '/v1/imports/loans',
    status: 422,
    what: 'SQL in a row id',
    payload: { items: [{ id: SQL }] },
  },
  {
    route: 'POST /v1/imports/repayments',
    url: '/v1/imports/repayments',
    status: 400,
    what: 'malformed CSV',
    raw: 'id,loanId\n"r1,ln1\n',
    contentType: 'text/csv',
  },
  {
    route: 'POST /v1/imports/repayments',
    url: '/v1/imports/repayments',
    status: 413,
    what: 'CSV over its limit',
    raw: `id,loanId,dueAt,amountDue,amountPaid\n${'r1,ln1,1,1,0\n'.repeat(400)}`,
    contentType: 'text/csv',
  },
  {
    route: 'POST /v1/imports/repayments',
    url: '/v1/imports/repayments',
    status: 400,
    what: 'CSV with a JSON content type',
    raw: 'id,loanId\n',
    contentType: 'application/json',
  },
];

badInputSuite('access', CASES);
