// A browser test is a whole user journey (sign in, several pages, waits for the live stream) on shared
// cores: it gets twice the default time. Each wait inside still has its own, shorter, timeout.
jest.setTimeout(60_000);
