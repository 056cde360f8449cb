import { expect } from 'chai';
import { RESOURCES } from '../../src/resources/index.js';
import { formatMoney, MappingError, money, shopifyId, timestamp } from '../../src/resources/mapping.js';

describe('mapping Shopify JSON', () => {
  it('when a timestamp carries the shop offset, then it becomes the same instant in UTC', () => {
    expect(timestamp('2024-03-01T07:00:00-05:00', 'x')?.toISOString()).to.equal('2024-03-01T12:00:00.000Z');
    expect(timestamp('2024-03-01T07:00:00+05:30', 'x')?.toISOString()).to.equal('2024-03-01T01:30:00.000Z');
  });
  it('when an id exceeds 2^53, then it is refused rather than rounded', () => {
    expect(shopifyId(8_123_456_789_012, 'id')).to.equal(8_123_456_789_012);
    expect(() => shopifyId(2 ** 53 + 2, 'id')).to.throw(MappingError, /exceeds 2\^53/);
    expect(() => shopifyId('9007199254740993', 'id')).to.throw(MappingError);
  });
  it('when money arrives, then it stays a decimal string and goes out in Shopify form', () => {
    expect(money('19.99', 'p')).to.equal('19.99');
    expect(() => money('19,99', 'p')).to.throw(MappingError);
    expect(formatMoney('19.9900')).to.equal('19.99');
    expect(formatMoney('0.1250')).to.equal('0.125');
    expect(formatMoney('5.0000')).to.equal('5.00');
  });
  it('when an order is mapped, then its line items and customer id come along', () => {
    const mapped = RESOURCES.orders.map(
      { id: 1, updated_at: '2024-01-01T00:00:00Z', customer: { id: 9 }, line_items: [{ id: 2, quantity: 3, price: '1.50' }] },
      { shopCurrency: 'USD' },
    );
    expect(mapped.row).to.include({ id: 1, customer_id: 9 });
    expect(mapped.children).to.have.length(1);
    expect(mapped.children[0]).to.include({ id: 2, order_id: 1, quantity: 3, price: '1.50' });
  });
});

describe('mapping rejects malformed timestamps', () => {
  it('when updated_at is not ISO 8601, then mapping refuses it', () => {
    for (const bad of ['bad-1', '2024-03-01', 'yesterday', '2024-03-01 07:00:00']) {
      expect(() => timestamp(bad, 'updated_at'), bad).to.throw(MappingError);
    }
  });
});

describe('resource registry: what the API reads', () => {
  /** A stored row holding only `columns`: reading any other column fails the test. */
  const rowOf = (table: string, columns: readonly string[]) =>
    new Proxy({} as Record<string, unknown>, {
      get(_target, name) {
        if (typeof name !== 'string' || name === 'then') return undefined;
        if (!columns.includes(name)) throw new Error(`${table}: toApi reads ${name}, which readColumns does not select`);
        return null;
      },
    });

  for (const resource of Object.values(RESOURCES)) {
    it(`when ${resource.name} are served, then toApi reads only the selected columns, and never raw`, () => {
      expect(resource.readColumns).not.to.include('raw');
      expect(resource.child?.readColumns ?? []).not.to.include('raw');
      const child = resource.child ? [rowOf(resource.child.table, resource.child.readColumns)] : [];
      const body = resource.toApi(rowOf(resource.table, resource.readColumns), child);
      expect(Object.keys(body)).to.include('updated_at');
      if (resource.child) expect(body[resource.child.apiField]).to.have.length(1);
    });
  }
});
