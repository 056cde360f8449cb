import { expect } from 'chai';
import { encodeCursor } from '../../src/http/cursor.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { connectShop } from '../support/webhooks.js';

type Forgery = 'not base64 JSON' | 'a position of the wrong arity' | 'an id of zero' | 'a text where an id belongs';
const SHAPE: Forgery[] = ['not base64 JSON', 'a position of the wrong arity'];
const ID_KEYED: Forgery[] = [...SHAPE, 'an id of zero', 'a text where an id belongs'];

/**
 * Lists, the key that reads them, and the cursors each can tell it never issued: lists keyed by our own
 * ids check the decoded position too; record lists (keys of any type per resource) and dead letters
 * (stream ids) check what they can. Each answers with the same problem.
 */
const LISTS: { path: string; admin: boolean; forgeries: Forgery[] }[] = [
  { path: '/api/shopify/products/', admin: false, forgeries: SHAPE },
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
});
