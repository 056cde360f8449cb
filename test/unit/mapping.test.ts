import { expect } from 'chai';
import { AppError } from '../../src/errors.js';
import { isRetriable } from '../../src/sync/errors.js';
import { RESOURCES } from '../../src/resources/index.js';
import { formatMoney, MappingError, minorUnits, money, shopifyId, text, textBytes, timestamp } from '../../src/resources/mapping.js';

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
  it('when a record cannot be mapped, then the error is a permanent AppError: a retry would fail the same way', () => {
    const error = new MappingError('id must be a positive integer id');
    expect(error).to.be.instanceOf(AppError).and.instanceOf(MappingError).and.include({ name: 'MappingError', retriable: false, code: 'unmappable-record' });
    expect(isRetriable(error)).to.equal(false);
  });
  it('when money arrives, then it stays a decimal string and goes out in Shopify form', () => {
    expect(money('19.99', 'p')).to.equal('19.99');
    expect(() => money('19,99', 'p')).to.throw(MappingError);
    expect(formatMoney('19.9900')).to.equal('19.99');
    expect(formatMoney('0.1250')).to.equal('0.125');
    expect(formatMoney('5.0000')).to.equal('5.00');
  });
  it("when an amount is formatted for its currency, then it has the currency's minor units and never loses a significant decimal", () => {
    expect(formatMoney('1.5000', 'KWD')).to.equal('1.500');
    expect(formatMoney('1.2340', 'BHD')).to.equal('1.234');
    expect(formatMoney('19.9900', 'USD')).to.equal('19.99');
    expect(formatMoney('19.9900', 'eur')).to.equal('19.99');
    expect(formatMoney('1500.0000', 'JPY')).to.equal('1500');
    expect(formatMoney('1500.5000', 'JPY')).to.equal('1500.5');
    expect(formatMoney('0.1250', 'USD')).to.equal('0.125');
    expect(formatMoney('1.2345', 'USD')).to.equal('1.2345');
    expect(formatMoney('-3.0000', 'KRW')).to.equal('-3');
    expect(formatMoney('7.0000', null)).to.equal('7.00');
    expect(formatMoney(null, 'KWD')).to.equal(null);
    expect([minorUnits('OMR'), minorUnits('CLF'), minorUnits('XOF'), minorUnits('GBP'), minorUnits(undefined)]).to.deep.equal([3, 4, 0, 2, 2]);
  });
  it("when stored KWD and JPY amounts are served, then orders, line items, variants and customers carry their currency's decimals", () => {
    const order = RESOURCES.orders.toApi({ currency: 'KWD', total_price: '1.5000', subtotal_price: '1.5000', total_tax: '0.0000' }, [{ price: '0.7500' }]);
    expect(order).to.include({ total_price: '1.500', subtotal_price: '1.500', total_tax: '0.000' });
    expect((order.line_items as { price: string }[])[0]?.price).to.equal('0.750');
    const productBody = RESOURCES.products.toApi({}, [{ price: '1500.0000', compare_at_price: null, currency: 'JPY' }]);
    expect((productBody.variants as { price: string }[])[0]?.price).to.equal('1500');
    expect(RESOURCES.customers.toApi({ total_spent: '12.3000', currency: 'TND' }, [])).to.include({ total_spent: '12.300' });
  });
  it('when a tag list is longer than a TEXT column in UTF-8 bytes, then it is cut by bytes on a character boundary', () => {
    expect(textBytes(null)).to.equal(null);
    expect(textBytes('short, tags')).to.equal('short, tags');
    // 30,000 three-byte characters: within 65,535 characters but 90,000 bytes.
    const cjk = '標'.repeat(30_000);
    const cut = textBytes(cjk) as string;
    expect(Buffer.byteLength(cut, 'utf8')).to.equal(65_535);
    expect(cut).to.equal('標'.repeat(21_845));
    // Four-byte characters (emoji) after one ASCII byte: the cut never leaves half a character behind.
    const emoji = `a${'😀'.repeat(20_000)}`;
    const cutEmoji = textBytes(emoji) as string;
    expect(Buffer.byteLength(cutEmoji, 'utf8')).to.equal(1 + 4 * 16_383);
    expect(cutEmoji.endsWith('😀')).to.equal(true);
    expect(cutEmoji).to.not.include('\uFFFD');
    for (const max of [1, 2, 3, 4, 5, 6, 7]) {
      const s = textBytes('é😀標x', max) as string;
      expect(Buffer.byteLength(s, 'utf8'), `max ${max}`).to.be.at.most(max);
      expect('é😀標x'.startsWith(s), `max ${max}`).to.equal(true);
    }
  });
  it('when a multibyte tag list is mapped, then products and customers keep at most 65,535 bytes of it', () => {
    const tags = 'タグ'.repeat(20_000);
    const productRow = RESOURCES.products.map({ id: 1, updated_at: '2024-01-01T00:00:00Z', tags }, { shopCurrency: 'USD' }).row;
    const customerRow = RESOURCES.customers.map({ id: 2, updated_at: '2024-01-01T00:00:00Z', tags }, { shopCurrency: 'USD' }).row;
    for (const row of [productRow, customerRow]) expect(Buffer.byteLength(row.tags as string, 'utf8')).to.be.at.most(65_535);
  });
  it('when a VARCHAR value is cut by characters, then an emoji is never split in half', () => {
    expect(text('ab😀', 3)).to.equal('ab');
    expect(text('ab😀', 4)).to.equal('ab😀');
    expect(text('abc', 2)).to.equal('ab');
  });
  it('when an order is mapped, then its line items and customer id come along', () => {
    const mapped = RESOURCES.orders.map({ id: 1, updated_at: '2024-01-01T00:00:00Z', customer: { id: 9 }, line_items: [{ id: 2, quantity: 3, price: '1.50' }] }, { shopCurrency: 'USD' });
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
