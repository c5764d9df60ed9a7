// Waiting for an event in a Node test: poll the condition; the deadline only ends a hang with the
// name of what never happened (it is not a timed assertion: runs on a slow machine just wait longer).
export async function until(what: string, condition: () => boolean, ms = 30_000): Promise<void> {
  for (const deadline = Date.now() + ms; !condition();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}
