import { loadUserConfig } from "@/config/load";
import { printableConfig } from "@/config/printable";
import { resolveConfig } from "@/config/resolve";
import { loadSecrets } from "@/config/secrets";

/** `aurora config check`: load, validate, check secrets; never touches a backend or writes a file. */
export async function configCheck(file?: string): Promise<number> {
  const { config, source } = await loadUserConfig(file);
  const resolved = await loadSecrets(resolveConfig(config), { persist: false });
  const { db, blobs, cache } = resolved;
  process.stdout.write(`config OK (${source}): db=${db.name} blobs=${blobs.name} cache=${cache.name}\n`);
  return 0;
}

/** `aurora config print`: the resolved config as JSON, secrets redacted. */
export async function configPrint(file?: string): Promise<number> {
  const { config } = await loadUserConfig(file);
  process.stdout.write(JSON.stringify(printableConfig(resolveConfig(config)), null, 2) + "\n");
  return 0;
}
