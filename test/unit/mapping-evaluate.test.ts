import { expect } from 'chai';
import { AppError } from '../../src/errors.js';
import { mapRecords } from '../../src/mappings/apply.js';
import { MappingError } from '../../src/mappings/errors.js';
import { createMapperPool, MAX_EXPRESSION_BYTES, type Mapper } from '../../src/mappings/pool.js';
import { sampleRecord } from '../../src/mappings/samples.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';

const product = {
  id: 8123456789012,
  title: 'Classic Tee',
  variants: [
    { id: 45123456789012, sku: 'TEE-L-BLU', price: '19.99' },
    { id: 45123456789013, sku: 'TEE-M-BLU', price: '24.99' },
  ],
};
const NORMAL = '{ "sku": variants[0].sku, "name": title, "price_cents": $number(variants[0].price) * 100 }';
const CATASTROPHIC_REGEX = `$match("${'a'.repeat(40)}!", /^(a+)+$/)`;

/** The MappingError an evaluation rejects with (fails the test when it resolves or rejects otherwise). */
async function failure(promise: Promise<unknown>): Promise<MappingError> {
  try {
    const value = await promise;
    expect.fail(`expected a MappingError, got ${JSON.stringify(value)}`);
  } catch (err) {
    expect(err).to.be.instanceOf(MappingError);
    return err as MappingError;
  }
}

describe('mapping evaluation: JSONata under limits, in worker threads', function () {
  this.timeout(20_000);
  let mapper: Mapper;
  before(() => {
    mapper = createMapperPool({ timeoutMs: 100, maxOutputBytes: 65536, threads: 2 });
  });
  after(async () => mapper?.close());

  it('when a normal expression maps a product, then the result is the JSON it builds', async () => {
    const mapped = (await mapper.evaluate(NORMAL, product)) as Record<string, unknown>;
    expect(mapped).to.include({ sku: 'TEE-L-BLU', name: 'Classic Tee' });
    expect(mapped.price_cents).to.be.closeTo(1999, 1e-6);
    expect(await mapper.evaluate('variants.sku', product)).to.deep.equal(['TEE-L-BLU', 'TEE-M-BLU']);
  });

  it('when the expression selects nothing, then the result is null', async () => {
    expect(await mapper.evaluate('no_such_field', product)).to.equal(null);
  });

  it('when the expression has a syntax error, then a non-retriable MappingError names the JSONata code and position', async () => {
    const err = await failure(mapper.evaluate('{ "name": title, "sku": variants[0.sku }', product));
    expect(err).to.be.instanceOf(AppError).and.include({ kind: 'syntax', retriable: false, status: 422, title: 'Mapping syntax error' });
    expect(err.jsonataCode).to.match(/^S0\d{3}$/);
    expect(err.position).to.be.a('number').and.to.be.greaterThan(20);
    expect(err.detail).to.include(`${err.jsonataCode} at position ${err.position}`);
    expect(err.errors).to.deep.equal([{ location: 'body', name: 'expression', message: err.detail }]);
    const compiled = await failure(mapper.compile('title[0'));
    expect(compiled).to.include({ kind: 'syntax', jsonataCode: 'S0203' });
  });

  it('when the data does not fit the expression, then the JSONata evaluation error comes back with its code', async () => {
    const err = await failure(mapper.evaluate('title + 1', product));
    expect(err).to.include({ kind: 'evaluation', jsonataCode: 'T2001', position: 7 });
  });

  it('when a function recurses without end, then the depth limit stops it', async () => {
    const err = await failure(mapper.evaluate('($f := function($n) { $n + $f($n + 1) }; $f(0))', product));
    expect(err).to.include({ kind: 'depth', title: 'Mapping recursion too deep' });
  });

  it('when a tail call loops forever, then the time limit stops it inside the thread', async () => {
    const started = Date.now();
    const err = await failure(mapper.evaluate('($loop := function($n) { $loop($n + 1) }; $loop(0))', product));
    expect(err.kind).to.equal('timeout');
    expect(err.detail).to.match(/longer than 100 ms/);
    expect(Date.now() - started).to.be.lessThan(2000);
  });

  it('when a catastrophic regular expression blocks its thread, then the thread is stopped at the deadline and replaced', async () => {
    const started = Date.now();
    const err = await failure(mapper.evaluate(CATASTROPHIC_REGEX, product));
    expect(err).to.include({ kind: 'timeout', retriable: false });
    expect(err.detail).to.match(/stopped/);
    expect(Date.now() - started).to.be.lessThan(2000);
    // The pool carries on with fresh threads, and an evaluation queued behind the stuck one still runs.
    const [stuck, next] = await Promise.allSettled([mapper.evaluate(CATASTROPHIC_REGEX, product), mapper.evaluate('title', product)]);
    expect(stuck.status).to.equal('rejected');
    expect(next).to.deep.equal({ status: 'fulfilled', value: 'Classic Tee' });
  });

  it('when the output is larger than the cap, then it is refused, measured on its JSON', async () => {
    const err = await failure(mapper.evaluate('$pad("", 70000, "x")', product));
    expect(err.kind).to.equal('output-too-large');
    expect(err.detail).to.include('65536');
    expect(await mapper.evaluate('$pad("", 1000, "x")', product)).to.have.length(1000);
  });

  it('when the expression is longer than 16 KiB, then it is refused before any thread sees it', async () => {
    const err = await failure(mapper.evaluate(`"${'x'.repeat(MAX_EXPRESSION_BYTES)}"`, product));
    expect(err.kind).to.equal('expression-too-long');
  });

  it('when the expression returns a function, then it is refused as not JSON', async () => {
    expect((await failure(mapper.evaluate('function($x) { $x }', product))).kind).to.equal('not-json');
  });

  it('when a batch has one failing record, then only that record carries an error, in order', async () => {
    const outcomes = await mapRecords(mapper, '$uppercase(title)', [{ title: 'a' }, { title: 5 }, { title: 'c' }]);
    expect(outcomes[0]).to.deep.equal({ mapped: 'A' });
    expect(outcomes[1]?.error?.title).to.equal('Mapping evaluation error');
    expect(outcomes[1]?.error?.detail).to.match(/T0410/);
    expect(outcomes[2]).to.deep.equal({ mapped: 'C' });
  });

  it("when a resource has no record yet, then its sample is the contract's example of the record", async () => {
    for (const name of RESOURCE_NAMES) expect(sampleRecord(name), name).to.be.an('object').that.is.not.empty;
    expect(await mapper.evaluate(NORMAL, sampleRecord('products'))).to.include({ sku: 'TEE-L-BLU', name: 'Classic Tee' });
    expect(sampleRecord('inventory')).to.include.keys('inventory_item_id', 'location_id', 'available');
    expect(sampleRecord('locations')).to.include({ name: 'Main Warehouse' });
  });

  it('when the pool is closed, then evaluations are refused', async () => {
    const closing = createMapperPool({ timeoutMs: 100, maxOutputBytes: 1024, threads: 1 });
    expect(await closing.evaluate('1 + 1', null)).to.equal(2);
    await closing.close();
    const err = await closing.evaluate('1 + 1', null).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(AppError).and.not.instanceOf(MappingError);
  });
});
