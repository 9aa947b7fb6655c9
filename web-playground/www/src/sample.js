// What the playground shows on a first visit (no share link): a small CloudTrail rule and a few
// events, two of which it fires on, with test marks. Only data.

export const sampleRule = `title: CloudTrail Logging Stopped or Trail Deleted
id: 2f1c6b3e-8a4d-4c2e-9f1a-7d5e3b2a1c90
status: experimental
description: An attacker turning off the audit trail before acting.
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: cloudtrail.amazonaws.com
        eventName:
            - StopLogging
            - DeleteTrail
    filter_failed:
        errorCode|exists: true
    condition: selection and not filter_failed
level: high
`;

const event = (time, name, extra = {}) =>
  JSON.stringify({
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/dave', accountId: '111122223333', userName: 'dave' },
    eventTime: `2026-11-20T09:${time}Z`,
    eventSource: 'cloudtrail.amazonaws.com',
    eventName: name,
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.77',
    requestParameters: { name: 'arn:aws:cloudtrail:us-east-1:111122223333:trail/main' },
    ...extra,
  });

export const sampleEvents =
  [
    event('41:02', 'DescribeTrails', { readOnly: true }),
    event('42:10', 'StopLogging'),
    event('42:55', 'DeleteTrail', { errorCode: 'AccessDenied', errorMessage: 'denied by an SCP' }),
    event('43:20', 'DeleteTrail'),
  ].join('\n') + '\n';

/** Test marks for the sample events: [{expect, lines}]. */
export const sampleCases = [
  { expect: 'no_match', lines: [1] },
  { expect: 'match', lines: [2] },
  { expect: 'no_match', lines: [3] },
  { expect: 'match', lines: [4] },
];
