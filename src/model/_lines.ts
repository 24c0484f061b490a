/**
 * Reading a byte stream line by line. Our own, a few lines long: the
 * standard `TextLineStream` is in `@std/streams`, on JSR, which pq's
 * machines cannot reach.
 * @module
 */

/** Calls `onLine` with each line of `stream` (without its `\n`) until it ends. */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer) onLine(buffer);
}
