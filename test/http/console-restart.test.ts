import { falcoEvent } from '../support/events';
import { removeTempDirs, tempDir } from '../support/data-dir';
import { eventually, post, startTestFalconer, TEST_TOKEN } from '../support/falconer';

const auth = { authorization: `Bearer ${TEST_TOKEN}` };

afterAll(removeTempDirs);

describe('console history in embedded mode with a data dir', () => {
  it("is rebuilt at start-up from the data dir's recent alerts", async () => {
    const dataDir = tempDir();
    const first = await startTestFalconer({ dataDir });
    const event = falcoEvent({ output_fields: { ...(falcoEvent().output_fields as object), 'k8s.pod.name': 'survivor' } });
    expect((await post(`${first.url}/v1/events/falco`, JSON.stringify(event))).status).toBe(202);
    await eventually(async () => {
      const body = (await (await fetch(`${first.url}/v1/console/alerts`, { headers: auth })).json()) as { total: number };
      expect(body.total).toBe(1);
    });
    await first.stop();

    const second = await startTestFalconer({ dataDir });
    try {
      const body = (await (await fetch(`${second.url}/v1/console/alerts`, { headers: auth })).json()) as any;
      expect(body.items.map((r: { pod: string }) => r.pod)).toEqual(['survivor']);
      const detail = (await (
        await fetch(`${second.url}/v1/console/alerts/${body.items[0].fingerprint}`, { headers: auth })
      ).json()) as any;
      expect(detail.evidence).toEqual([expect.objectContaining({ uuid: event.uuid })]);
    } finally {
      await second.stop();
    }
  });
});
