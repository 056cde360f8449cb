import { expect } from 'chai';
import { parse, validate } from 'graphql';
import { availableAdminSchemaVersions, loadAdminSchema } from '../../scripts/mock-shopify/admin-schema.js';
import { requestedCost } from '../../scripts/mock-shopify/graphql.js';
import {
  CUSTOMERS_QUERY,
  customersCost,
  LOCATION_INVENTORY_LEVELS_QUERY,
  locationInventoryLevelsCost,
  LOCATIONS_QUERY,
  locationsCost,
  ORDER_LINE_ITEMS_QUERY,
  orderLineItemsCost,
  ORDERS_QUERY,
  ordersCost,
  PRODUCT_VARIANTS_QUERY,
  PRODUCTS_QUERY,
  productsCost,
  productVariantsCost,
  SYNC_DOCUMENTS,
} from '../../src/shopify/graphql/documents/index.js';
import { BULK_DOCUMENTS, BULK_DOCUMENTS_SINCE_2026_01, BULK_EXPORT_QUERIES } from '../../src/shopify/graphql/documents/bulk.js';
import { DEFAULT_CHILDREN_PER_RECORD, fittingFirst } from '../../src/shopify/graphql/pages.js';

describe('GraphQL Admin documents', function () {
  this.timeout(60_000);

  it('when the schema package is installed, then it has the default API version and answers an unknown one with a clear error', () => {
    expect(availableAdminSchemaVersions()).to.include('2026-10');
    expect(() => loadAdminSchema('2019-04')).to.throw(/No Admin GraphQL schema for API version "2019-04".*installed: .*2026-10/);
  });

  for (const version of ['2025-10', '2026-01', '2026-04', '2026-07', '2026-10']) {
    it(`when validated against Shopify's ${version} schema, then every sync document is valid`, () => {
      const schema = loadAdminSchema(version);
      for (const [name, document] of Object.entries(SYNC_DOCUMENTS)) {
        const errors = validate(schema, parse(document)).map((e) => e.message);
        expect(errors, name).to.deep.equal([]);
      }
    });

    it(`when validated against Shopify's ${version} schema, then every bulk export query and bulk operation document is valid`, () => {
      const schema = loadAdminSchema(version);
      const since2026 = version >= '2026-01' ? BULK_DOCUMENTS_SINCE_2026_01 : {};
      for (const [name, document] of Object.entries({ ...BULK_EXPORT_QUERIES, ...BULK_DOCUMENTS, ...since2026 })) {
        const errors = validate(schema, parse(document)).map((e) => e.message);
        expect(errors, name).to.deep.equal([]);
      }
    });
  }
});

describe('GraphQL Admin documents: requested cost', () => {
  const schema = () => loadAdminSchema('2026-10');

  it("when a document's page sizes vary, then its cost function equals Shopify's calculation by the mock from the schema", () => {
    const cases: [string, Record<string, unknown>, number][] = [];
    for (const [first, children] of [
      [1, 1],
      [10, 10],
      [43, 10],
      [250, 0],
    ] as const) {
      cases.push([PRODUCTS_QUERY, { first, variantsFirst: children }, productsCost(first, children)]);
      cases.push([ORDERS_QUERY, { first, lineItemsFirst: children }, ordersCost(first, children)]);
    }
    for (const first of [1, 100, 250]) {
      cases.push([PRODUCT_VARIANTS_QUERY, { id: 'gid://shopify/Product/1', first }, productVariantsCost(first)]);
      cases.push([ORDER_LINE_ITEMS_QUERY, { id: 'gid://shopify/Order/1', first }, orderLineItemsCost(first)]);
      cases.push([CUSTOMERS_QUERY, { first }, customersCost(first)]);
      cases.push([LOCATIONS_QUERY, { first }, locationsCost(first)]);
      cases.push([LOCATION_INVENTORY_LEVELS_QUERY, { location: 'gid://shopify/Location/1', first }, locationInventoryLevelsCost(first)]);
    }
    for (const [document, variables, expected] of cases) {
      expect(requestedCost(schema(), document, variables), `${document.slice(6, 30)} ${JSON.stringify(variables)}`).to.equal(expected);
    }
  });

  it('when page sizes are fitted, then every sync query stays within 1,000 points', () => {
    expect(fittingFirst(250, (n) => productsCost(n, DEFAULT_CHILDREN_PER_RECORD))).to.equal(43);
    expect(productsCost(43, DEFAULT_CHILDREN_PER_RECORD)).to.be.at.most(1000);
    expect(productsCost(44, DEFAULT_CHILDREN_PER_RECORD)).to.be.above(1000);
    expect(fittingFirst(250, customersCost)).to.equal(249);
    expect(fittingFirst(250, productVariantsCost)).to.equal(250);
    expect(fittingFirst(50, customersCost)).to.equal(50);
    expect(
      ordersCost(
        fittingFirst(250, (n) => ordersCost(n, 10)),
        10,
      ),
    ).to.be.at.most(1000);
  });
});
