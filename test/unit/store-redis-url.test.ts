import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisConnectionOptions } from '../../src/store/redis-process.ts';

test('Redis URLs: unix sockets, TCP with password and db, Sentinel groups', () => {
  assert.deepEqual(redisConnectionOptions('redis+unix:///run/ml/redis.sock'), { path: '/run/ml/redis.sock' });
  assert.deepEqual(redisConnectionOptions('unix:///tmp/r.sock'), { path: '/tmp/r.sock' });
  assert.deepEqual(redisConnectionOptions('redis://127.0.0.1:6380'), { host: '127.0.0.1', port: 6380 });
  assert.deepEqual(redisConnectionOptions('redis://:s%40cret@10.0.0.5/2'), { host: '10.0.0.5', port: 6379, password: 's@cret', db: 2 });
  assert.deepEqual(redisConnectionOptions('redis+sentinel://10.0.0.1:26379,10.0.0.2,[fd00::3]:26380/meshlet'), {
    sentinels: [
      { host: '10.0.0.1', port: 26379 },
      { host: '10.0.0.2', port: 26379 },
      { host: 'fd00::3', port: 26380 },
    ],
    name: 'meshlet',
  });
  assert.deepEqual(redisConnectionOptions('redis+sentinel://:pw@s1:26379/m/1'), { sentinels: [{ host: 's1', port: 26379 }], name: 'm', password: 'pw', db: 1 });
  assert.throws(() => redisConnectionOptions('http://x'), /unsupported Redis URL/);
  assert.throws(() => redisConnectionOptions('redis+sentinel://s1:26379'), /master-name/);
  assert.throws(() => redisConnectionOptions('not a url'), /invalid Redis URL/);
});
