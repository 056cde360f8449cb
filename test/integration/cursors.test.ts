import { expect } from 'chai';
import { encodeCursor } from '../../src/http/cursor.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { connectShop } from '../support/webhooks.js';

type Forgery =
  | 'not base64 JSON'
  | 'a position of the wrong arity'
  | 'an id of zero'
  | 'a text where an id belongs'
  | 'a fraction where an id belongs'
  | 'a one-part position for a two-part key'
  | 'a zero in a two-part key'
  | 'a text in a two-part key'
  | 'a negative id in a two-part key';
const SHAPE: Forgery[] = ['not base64 JSON', 'a position of the wrong arity'];
const ID_KEYED: Forgery[] = [...SHAPE, 'an id of zero', 'a text where an id belongs', 'a fraction where an id belongs'];
const TWO_PART_KEYED: Forgery[] = ['not base64 JSON', 'a one-part position for a two-part key', 'a zero in a two-part key', 'a text in a two-part key', 'a negative id in a two-part key'];

/**
 * Lists, the key that reads them, and the cursors each can tell it never issued: lists keyed by ids (our
 * own, or Shopify's for records: inventory levels by item and location) check the decoded position's
 * arity and every id in it; dead letters (stream ids) check what they can. Each answers with the same problem.
 */
const LISTS: { path: string; admin: boolean; forgeries: Forgery[] }[] = [
  { path: '/api/shopify/products/', admin: false, forgeries: ID_KEYED },
  { path: '/api/shopify/orders/', admin: false, forgeries: ID_KEYED },
  { path: '/api/shopify/customers/', admin: false, forgeries: ID_KEYED },
  { path: '/api/shopify/locations/', admin: false, forgeries: ID_KEYED },
  { path: '/api/shopify/inventory/', admin: false, forgeries: TWO_PART_KEYED },
  { path: '/api/shopify/sync-logs/', admin: false, forgeries: ID_KEYED },
  { path: '/api/admin/integrations/', admin: true, forgeries: ID_KEYED },
  { path: '/api/admin/api-keys/', admin: true, forgeries: ID_KEYED },
  { path: '/api/admin/webhooks/dead-letters/', admin: true, forgeries: [...SHAPE, 'an id of zero'] },
];

describe('cursors this API did not issue', () => {
  let t: TestContext;
  let tenantKey: string;

  before(async () => {
    t = await startTestContext();
    await connectShop(t.ctx, 'tenant-cursors', 'cursors.myshopify.com');
    tenantKey = await t.keyFor('tenant-cursors');
  });
  after(async () => t?.close());

  const forged: Record<Forgery, string> = {
    'not base64 JSON': 'bm9wZQ',
    'a position of the wrong arity': encodeCursor([1, 2]),
    'an id of zero': encodeCursor([0]),
    'a text where an id belongs': encodeCursor(['1 OR 1=1']),
    'a fraction where an id belongs': encodeCursor([1.5]),
    'a one-part position for a two-part key': encodeCursor([1]),
    'a zero in a two-part key': encodeCursor([1, 0]),
    'a text in a two-part key': encodeCursor([1, '2']),
    'a negative id in a two-part key': encodeCursor([-1, 2]),
  };

  for (const { path, admin, forgeries } of LISTS) {
    for (const what of forgeries) {
      const cursor = forged[what];
      it(`when ${path} gets ${what}, then 400 with the one invalid-cursor problem`, async () => {
        const res = await call(t.url, 'GET', `${path}?cursor=${cursor}`, { key: admin ? ADMIN_KEY : tenantKey });
        expectProblem(res, 400);
        expect(res.body.detail).to.equal('The cursor is not one this API issued');
        expect(res.body.errors).to.deep.equal([{ location: 'query', name: 'cursor', message: 'is not a valid cursor' }]);
      });
    }
  }

  // The checks refuse only what the API never issues: a position of the resource's arity made of ids reads on.
  for (const [path, position] of [
    ['/api/shopify/products/', [1]],
    ['/api/shopify/inventory/', [1, 2]],
  ] as const) {
    it(`when ${path} gets a well-formed position (${position.length} ids), then 200`, async () => {
      const res = await call(t.url, 'GET', `${path}?cursor=${encodeCursor([...position])}`, { key: tenantKey });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.data).to.be.an('array');
    });
  }
});
