import { ConnectionSet } from '../../src/posture/connections';

const tcp = (port?: number | string, end?: number) => ConnectionSet.fromPort('TCP', port, end);
const udp = (port?: number) => ConnectionSet.fromPort('UDP', port);

describe('ConnectionSet (netpol-analyzer wording)', () => {
  it.each([
    ['everything', ConnectionSet.all(), 'All Connections'],
    ['nothing', ConnectionSet.none(), 'No Connections'],
    ['one port', tcp(80), 'TCP 80'],
    ['a range', tcp(8080, 8090), 'TCP 8080-8090'],
    ['every TCP port', tcp(), 'TCP'],
    ['protocols sorted', udp(53).union(tcp(53)), 'TCP 53,UDP 53'],
    ['adjacent ports merge', tcp(80).union(tcp(81)).union(tcp(79)), 'TCP 79-81'],
    ['a named port stays a name', tcp('http'), 'TCP http'],
    ['a name under every port is dropped', tcp('http').union(tcp()), 'TCP'],
  ])('%s', (_n, set, text) => {
    expect(set.toString()).toBe(text);
  });

  it('intersection: both sides must allow', () => {
    expect(
      tcp(8000, 9000)
        .intersect(tcp(8080).union(tcp(9999)))
        .toString(),
    ).toBe('TCP 8080');
    expect(ConnectionSet.all().intersect(udp(53)).toString()).toBe('UDP 53');
    expect(tcp(80).intersect(udp(80)).isEmpty()).toBe(true);
    // A name meets a side that allows every port of its protocol, or names it too.
    expect(tcp('http').intersect(ConnectionSet.all()).toString()).toBe('TCP http');
    expect(tcp('http').intersect(tcp(80)).isEmpty()).toBe(true);
  });

  it('all three protocols on every port is All Connections; JSON says "all"', () => {
    const u = tcp().union(udp()).union(ConnectionSet.fromPort('SCTP', undefined));
    expect(u.isAll()).toBe(true);
    expect(u.toJSON()).toBe('all');
    expect(tcp(80).union(tcp('dns')).toJSON()).toEqual({ TCP: ['80', 'dns'] });
  });
});
