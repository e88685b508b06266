/**
 * A request body, read to at most `limit` bytes: a declared Content-Length
 * over the limit is refused before reading, and a streamed (chunked) body is
 * cancelled as soon as it passes it. `tooLarge` makes the caller's own error
 * (XRPC 413, OAuth invalid_request, ...).
 */
export async function readBodyLimited(request: Request, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}
