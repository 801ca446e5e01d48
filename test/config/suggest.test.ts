import assert from 'node:assert/strict';
import { test } from 'node:test';
import { suggest } from '../../src/config/suggest.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const ROUTE_KEYS = ['path', 'pathPrefix', 'method', 'handler', 'cors', 'auth', 'bodyLimit', 'responseLimit', 'timeout', 'description'];

test('suggest fixes case slips, swapped letters and single typos', () => {
  assert.equal(suggest('get', METHODS), 'GET');
  assert.equal(suggest('GTE', METHODS), 'GET');
  assert.equal(suggest('PSOT', METHODS), 'POST');
  assert.equal(suggest('DELET', METHODS), 'DELETE');
  assert.equal(suggest('metod', ROUTE_KEYS), 'method');
  assert.equal(suggest('hanlder', ROUTE_KEYS), 'handler');
  assert.equal(suggest('pathprefix', ROUTE_KEYS), 'pathPrefix');
  assert.equal(suggest('bodylimit', ROUTE_KEYS), 'bodyLimit');
});

test('suggest maps shortened and lengthened names when only one candidate fits', () => {
  assert.equal(suggest('prefix', ROUTE_KEYS), 'pathPrefix');
  assert.equal(suggest('warning', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'warn');
  assert.equal(suggest('limit', ROUTE_KEYS), undefined, 'bodyLimit and responseLimit both contain it');
});

test('suggest stays quiet when nothing is close', () => {
  assert.equal(suggest('FETCH', METHODS), undefined);
  assert.equal(suggest('XYZ', METHODS), undefined);
  assert.equal(suggest('colour', ['host', 'port', 'publicUrl', 'shutdownTimeout']), undefined);
  assert.equal(suggest('anything', []), undefined);
});
