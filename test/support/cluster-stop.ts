import { testClusterIfStarted } from "./db.ts";

export async function stopTestCluster(): Promise<void> {
  const cluster = await testClusterIfStarted();
  if (!cluster) return;
  await cluster.admin.end({ timeout: 1 });
  await cluster.embedded.stop();
}
