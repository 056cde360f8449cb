import { expect } from 'chai';
import { nextPageInfo, pageInfoFromUrl, paginate, parseLinkHeader, paramsForNextPage } from '../../src/shopify/pagination.js';
import type { QueryParams } from '../../src/shopify/types.js';

const url = (pageInfo: string) => `https://shop.myshopify.com/admin/api/2026-10/products.json?limit=250&page_info=${pageInfo}`;

describe('Shopify Link header pagination', () => {
  describe('parseLinkHeader', () => {
    it('when the header has previous and next links, then both URLs are returned by rel', () => {
      const links = parseLinkHeader(`<${url('prev1')}>; rel="previous", <${url('next1')}>; rel="next"`);
      expect(links).to.deep.equal({ previous: url('prev1'), next: url('next1') });
    });

    it('when only a next link is present, then there is no previous', () => {
      const links = parseLinkHeader(`<${url('abc')}>; rel="next"`);
      expect(links.next).to.equal(url('abc'));
      expect(links.previous).to.equal(undefined);
    });

    it('when the header is missing or empty, then no links are found', () => {
      expect(parseLinkHeader(undefined)).to.deep.equal({});
      expect(parseLinkHeader(null)).to.deep.equal({});
      expect(parseLinkHeader('')).to.deep.equal({});
    });

    it('when rel is unquoted, spaced oddly or has extra parameters, then it is still read', () => {
      const links = parseLinkHeader(`<${url('a')}>;rel=next ,<${url('b')}> ; title="x"; rel="previous"`);
      expect(links).to.deep.equal({ next: url('a'), previous: url('b') });
    });

    it('when a link has no rel, then it is ignored', () => {
      expect(parseLinkHeader(`<${url('a')}>; title="no rel"`)).to.deep.equal({});
    });
  });

  describe('page_info extraction', () => {
    it('when the next URL carries page_info, then it is extracted (URL-decoded)', () => {
      expect(pageInfoFromUrl(url('eyJs%3D'))).to.equal('eyJs=');
      expect(nextPageInfo(`<${url('p2')}>; rel="next"`)).to.equal('p2');
    });

    it('when there is no next link, then there is no page_info', () => {
      expect(nextPageInfo(`<${url('p1')}>; rel="previous"`)).to.equal(undefined);
    });

    it('when the next page is asked, then only limit and fields accompany page_info', () => {
      const first: QueryParams = { limit: 100, fields: 'id,title', updated_at_min: '2024-01-01T00:00:00Z', status: 'any' };
      expect(paramsForNextPage(first, 'XYZ')).to.deep.equal({ limit: 100, page_info: 'XYZ', fields: 'id,title' });
    });
  });

  describe('paginate', () => {
    /** A fake list of `total` pages; records the params of every request. */
    function fakeList(total: number) {
      const requests: QueryParams[] = [];
      const fetchPage = async (params: QueryParams) => {
        requests.push(params);
        const n = params.page_info ? Number(String(params.page_info).slice(1)) : 1;
        const link = n < total ? `<${url(`p${n + 1}`)}>; rel="next"` : null;
        return { items: [n], linkHeader: link };
      };
      return { fetchPage, requests };
    }

    it('when pages link to each other, then every page is yielded in order and the first request uses limit=250', async () => {
      const list = fakeList(4);
      const seen: number[] = [];
      for await (const page of paginate(list.fetchPage, { updated_at_min: '2024-01-01T00:00:00Z' })) {
        seen.push(...page.items);
        expect(page.capReached).to.equal(false);
      }
      expect(seen).to.deep.equal([1, 2, 3, 4]);
      expect(list.requests[0]).to.deep.equal({ updated_at_min: '2024-01-01T00:00:00Z', limit: 250 });
      expect(list.requests[1]).to.deep.equal({ limit: 250, page_info: 'p2' });
    });

    it('when the cap is reached while more pages exist, then the last page and the summary say capReached', async () => {
      const list = fakeList(10);
      const gen = paginate(list.fetchPage, {}, { maxPages: 3 });
      const pages = [];
      let result = await gen.next();
      while (!result.done) {
        pages.push(result.value);
        result = await gen.next();
      }
      expect(pages.map((p) => [p.pageNumber, p.capReached])).to.deep.equal([
        [1, false],
        [2, false],
        [3, true],
      ]);
      expect(result.value).to.deep.equal({ pages: 3, items: 3, capReached: true });
      expect(list.requests).to.have.length(3);
    });

    it('when the list ends exactly at the cap, then the cap is not reported', async () => {
      const list = fakeList(3);
      const pages = [];
      for await (const page of paginate(list.fetchPage, {}, { maxPages: 3 })) pages.push(page);
      expect(pages.at(-1)).to.include({ pageNumber: 3, capReached: false, hasNext: false });
    });

    it('when the consumer stops early, then no further page is fetched (one page in flight)', async () => {
      const list = fakeList(100);
      for await (const page of paginate(list.fetchPage)) {
        if (page.pageNumber === 2) break;
      }
      expect(list.requests).to.have.length(2);
    });

    it('when maxPages is not a positive integer, then it is refused', async () => {
      const list = fakeList(1);
      let error: unknown;
      try {
        await paginate(list.fetchPage, {}, { maxPages: 0 }).next();
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(RangeError);
    });
  });
});
