// The rules and events the end-to-end test types or pastes into the playground, and what it
// expects of them. Written by hand from the Sigma rules' meaning (not copied from any output).

const ct = (minute, name, extra = {}) =>
  JSON.stringify({ eventVersion: '1.09', eventTime: `2026-11-20T09:${minute}:00Z`, eventSource: 'cloudtrail.amazonaws.com', eventName: name, ...extra });

// Short enough to type key by key; the nested mapping exercises the editor's auto-indentation.
export const detectionRule = `title: Trail Stopped
id: 5b1c7c6e-0c3d-4a59-9a4b-3f2e1d0c9b8a
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: cloudtrail.amazonaws.com
        eventName: StopLogging

    condition: selection
level: high
`;
export const detectionTitle = 'Trail Stopped';
export const detectionMatchedField = 'eventName';
export const detectionMatchedValue = 'StopLogging';
export const detectionEvents = [ct('00', 'StopLogging'), ct('01', 'StartLogging'), ct('02', 'StopLogging', { awsRegion: 'eu-west-1' }), ct('03', 'DescribeTrails')].join('\n') + '\n';
/** The 1-based event lines the rule fires on. */
export const detectionAlertLines = [1, 3];
/** [event line, expectation] marks for the rule tests (sigil test wants 2 of each). */
export const detectionMarks = [
  [1, 'match'],
  [2, 'no_match'],
  [3, 'match'],
  [4, 'no_match'],
];

// Several YAML documents: a base rule and an event_count correlation over it.
export const correlationRule = `title: Console Sign-in Failure
name: e2e_console_failure
id: 8d3b5f0a-6a51-4d8e-b1b4-2a9f3f6e1c11
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: ConsoleLogin
        responseElements.ConsoleLogin: Failure
    condition: selection
level: low
---
title: Repeated Console Sign-in Failures
id: 0e6f2a8c-3c1b-4f57-9d0e-7b5a4c3d2e19
correlation:
    type: event_count
    rules:
        - e2e_console_failure
    group-by:
        - userIdentity.userName
    timespan: 10m
    condition:
        gte: 3
level: high
`;
export const correlationTitle = 'Repeated Console Sign-in Failures';
const login = (minute, user, result) =>
  JSON.stringify({
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', userName: user },
    eventTime: `2026-11-20T10:${minute}:00Z`,
    eventSource: 'signin.amazonaws.com',
    eventName: 'ConsoleLogin',
    sourceIPAddress: '203.0.113.7',
    responseElements: { ConsoleLogin: result },
  });
export const correlationEvents =
  [login('00', 'bob', 'Failure'), login('01', 'alice', 'Success'), login('02', 'bob', 'Failure'), login('03', 'alice', 'Failure'), login('04', 'bob', 'Failure'), login('05', 'bob', 'Success')].join('\n') + '\n';

// An unknown modifier on line 8: the engine must point there.
export const brokenRule = `title: Broken On Purpose
id: 1f0e2d3c-4b5a-4697-8a7b-6c5d4e3f2a10
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName|nosuchmodifier: StopLogging
    condition: selection
level: low
`;
export const brokenLine = 8;

/** `n` CloudTrail events that no rule above matches: enough work to outlast a short deadline. */
export function manyEvents(n) {
  const lines = [];
  for (let i = 0; i < n; i++) lines.push(ct(String(i % 60).padStart(2, '0'), `GetObject${i % 97}`, { requestID: `r-${i}`, awsRegion: 'us-east-1' }));
  return lines.join('\n') + '\n';
}

export const examplePath = 'sigma-rules/rules/aws/aws_ssm_start_session.yml';

/**
 * Rule pack examples for the OCSF view: their events (CloudTrail) map to `eventClass`, checked
 * on event line `eventLine`; the first fires detections, the second a correlation.
 */
export const ocsfExamples = [
  { path: 'sigma-rules/rules/aws/aws_cloudtrail_stop_logging.yml', eventLine: 1, eventClass: 6003, kind: 'detection' },
  { path: 'sigma-rules/rules/aws/aws_console_login_failures_then_success.yml', eventLine: 2, eventClass: 3002, kind: 'correlation' },
];
/** An event of no source Sigil maps to OCSF. */
export const unmappedEvent = '{"message": "hello from a source Sigil does not map"}';
