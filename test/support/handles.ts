/**
 * Fails a test file that leaves sockets or servers open: every test closes
 * what it opens. Node reports live handles by type; closing ones may take a
 * tick or two to go, so this waits for them briefly before failing.
 */
import { afterAll, expect } from 'vitest';

const NETWORK = new Set(['TCPSocketWrap', 'TCPServerWrap', 'TLSWrap']);

function openNetworkHandles(): string[] {
  return process.getActiveResourcesInfo().filter((type) => NETWORK.has(type));
}

export async function expectNoOpenHandles(): Promise<void> {
  for (let i = 0; i < 50 && openNetworkHandles().length > 0; i += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(openNetworkHandles()).toEqual([]);
}

afterAll(expectNoOpenHandles);
