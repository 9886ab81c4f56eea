/** Bad input on the webhook routes. */
import { badInputSuite, type Case, SQLQ, UNKNOWN_SUB } from './support.js';

const CASES: Case[] = [
  // Webhooks: ids by pattern (SQL fails it), unknown well-formed ids 404, targets checked, bodies strict.
  ...(['GET', 'PATCH', 'DELETE'] as const).flatMap((m) => [
    {
      route: `${m} /v1/webhooks/subscriptions/:id`,
      url: `/v1/webhooks/subscriptions/${SQLQ}`,
      status: 400,
      what: 'SQL in id',
      ...(m === 'PATCH' ? { payload: { enabled: true } } : {}),
    },
    {
      route: `${m} /v1/webhooks/subscriptions/:id`,
      url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}`,
      status: 404,
      what: 'unknown id',
      ...(m === 'PATCH' ? { payload: { enabled: true } } : {}),
    },
  ]),
  ...['rotate-secret', 'ping', 'deliveries', 'replay'].flatMap((action) => {
    const method = action === 'deliveries' ? 'GET' : 'POST';
    const payload = action === 'replay' ? { from: 1, to: 2 } : undefined;
    return [
      {
        route: `${method} /v1/webhooks/subscriptions/:id/${action}`,
        url: `/v1/webhooks/subscriptions/${SQLQ}/${action}`,
        status: 400,
        what: 'SQL in id',
        ...(payload === undefined ? {} : { payload }),
      },
      {
        route: `${method} /v1/webhooks/subscriptions/:id/${action}`,
        url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}/${action}`,
        status: 404,
        what: 'unknown id',
        ...(payload === undefined ? {} : { payload }),
      },
    ];
  }),
  ...(['GET /v1/webhooks/deliveries/:id', 'POST /v1/webhooks/deliveries/:id/replay'] as const).flatMap(
    (route) => [
      { route, url: route.split(' ')[1]?.replace(':id', SQLQ) ?? '', status: 400, what: 'SQL in id' },
      { route, url: route.split(' ')[1]?.replace(':id', '999999') ?? '', status: 404, what: 'unknown id' },
    ],
  ),
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'empty body',
    payload: {},
  },
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'credentials in the URL',
    payload: { url: 'https://user:pw@example.com/hook' },
  },
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'the metadata address',
    payload: { url: 'http://169.254.169.254/latest/meta-data/' },
  },
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'an unknown event type',
    payload: { url: 'https://example.com/hook', eventTypes: ['alert.exploded'] },
  },
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'a secret of its own',
    payload: { url: 'https://example.com/hook', secret: 'whsec_x' },
  },
  {
    route: 'PATCH /v1/webhooks/subscriptions/:id',
    url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}`,
    status: 400,
    what: 'an empty patch',
    payload: {},
  },
  {
    route: 'POST /v1/webhooks/subscriptions/:id/rotate-secret',
    url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}/rotate-secret?overlapSeconds=-1`,
    status: 400,
    what: 'a negative overlap',
  },
  {
    route: 'POST /v1/webhooks/subscriptions/:id/replay',
    url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}/replay`,
    status: 400,
    what: 'no range',
    payload: {},
  },
  {
    route: 'GET /v1/webhooks/subscriptions/:id/deliveries',
    url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}/deliveries?status=lost`,
    status: 400,
    what: 'an unknown status',
  },
  {
    route: 'GET /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions?cursor=not*a*cursor',
    status: 400,
    what: 'a malformed cursor',
  },
  {
    route: 'GET /v1/webhooks/dead-letters',
    url: `/v1/webhooks/dead-letters?subscriptionId=${SQLQ}`,
    status: 400,
    what: 'SQL in subscriptionId',
  },
  {
    route: 'GET /v1/webhooks/dead-letters',
    url: `/v1/webhooks/dead-letters?cursor=${encodeURIComponent(Buffer.from('"x"').toString('base64url'))}`,
    status: 400,
    what: 'a cursor of another list',
  },
];

badInputSuite('webhooks', CASES);
