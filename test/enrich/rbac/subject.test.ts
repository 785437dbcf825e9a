import { parseServiceAccountUser, subjectFor } from '../../../src/enrich/rbac/subject';

describe('subjectFor', () => {
  it.each([
    ['alice', ['devs'], ['devs', 'system:authenticated'], undefined],
    ['alice', ['system:authenticated'], ['system:authenticated'], undefined],
    ['system:anonymous', [], ['system:unauthenticated'], undefined],
    [
      'system:serviceaccount:ci:deployer',
      [],
      ['system:serviceaccounts', 'system:serviceaccounts:ci', 'system:authenticated'],
      { namespace: 'ci', name: 'deployer' },
    ],
    ['system:serviceaccount:ci', [], ['system:authenticated'], undefined],
    ['system:serviceaccount:a:b:c', [], ['system:authenticated'], undefined],
  ])('%s %j', (user, groups, expected, sa) => {
    const subject = subjectFor(user, groups);
    expect(subject.groups).toEqual(expected);
    expect(subject.serviceAccount).toEqual(sa);
  });

  it('parses only well-formed service account names', () => {
    expect(parseServiceAccountUser('system:serviceaccount:kube-system:default')).toEqual({
      namespace: 'kube-system',
      name: 'default',
    });
    expect(parseServiceAccountUser('system:serviceaccount::x')).toBeUndefined();
    expect(parseServiceAccountUser('serviceaccount:a:b')).toBeUndefined();
  });
});
