/**
 * A SQLite store pq cannot write is a setting to change: the server and the
 * commands exit 2 saying what is wrong with which path (a read-only mount,
 * an immutable or read-only folder or file, a missing folder, a path under
 * a file, a folder given for the file), not SQLite's `unable to open
 * database file`. Read-only conditions are real: a read-only bind mount
 * in a private mount namespace (as root, with `unshare`), `chattr +i` as
 * root (root ignores file modes), `chmod` otherwise.
 */
import assert from "node:assert/strict";
import { openStore } from "../src/store/open_store.ts";
import { runPq, tempDir } from "./_server.ts";

const ROOT = Deno.uid() === 0;

/** Runs `program args`, resolving with whether it exited 0. */
async function succeeds(program: string, args: string[]): Promise<boolean> {
  try {
    const status = await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return status.success;
  } catch {
    return false;
  }
}

/** Whether this process can write in `dir` (makes and removes a file). */
async function canWrite(dir: string): Promise<boolean> {
  try {
    await Deno.remove(await Deno.makeTempFile({ dir }));
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `path` (a folder or a file) read-only for this process until
 * disposed: `chattr +i` as root, else a mode without write permission.
 * Fails when the file system does not let it, rather than test nothing.
 */
async function readOnly(path: string): Promise<AsyncDisposable> {
  const info = await Deno.stat(path);
  let undo: () => Promise<unknown>;
  if (ROOT) {
    assert.ok(
      await succeeds("chattr", ["+i", path]),
      `chattr +i ${path} failed: this test needs chattr (e2fsprogs) and a file system with the immutable flag (ext4, xfs, btrfs)`,
    );
    undo = () => succeeds("chattr", ["-i", path]);
  } else {
    await Deno.chmod(path, info.isDirectory ? 0o555 : 0o444);
    undo = () => Deno.chmod(path, info.mode ?? 0o755);
  }
  const dir = info.isDirectory ? path : undefined;
  if (dir) assert.equal(await canWrite(dir), false, `${dir} is still writable`);
  return { [Symbol.asyncDispose]: async () => void await undo() };
}

/** Starts a server on `url`, which fails at once; resolves with its run. */
function serve(url: string) {
  return runPq(["--workers", "0", "--data-store", url]);
}

Deno.test("a server on a folder it cannot write exits 2 saying so", async () => {
  await using dir = await tempDir();
  const store = `${dir.path}/locked`;
  await Deno.mkdir(store);
  const url = `sqlite:${store}/pq.sqlite`;
  {
    await using _locked = await readOnly(store);
    const run = await serve(url);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `^pq: Cannot open store '${url}': cannot write in the directory ${store}, where SQLite keeps the database's -wal and -shm files: ${
          ROOT ? "operation not permitted" : "permission denied"
        } .*; set --data-store to a writable path\\n`,
      ),
    );
    assert.doesNotMatch(run.stderr, /unable to open database file/);
  }
  // Writable again, the same command makes the store: the problem was it.
  assert.equal(await canWrite(store), true);
});

Deno.test("a server and a command on a store file they cannot write exit 2 saying so", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/pq.sqlite`;
  const url = `sqlite:${file}`;
  // A store as a server makes it, then made read-only.
  await (await openStore(url, { serializer: "json", resultTtl: 60 })).close();
  {
    await using _file = await readOnly(file);
    for (
      const run of [
        await serve(url),
        await runPq(["tasks", "--data-store", url]),
      ]
    ) {
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `pq: Cannot open store '${url}': cannot write ${file}: ${
            ROOT ? "operation not permitted" : "permission denied"
          } .*; set --data-store to a writable path`,
        ),
      );
    }
  }
});

Deno.test("a store path in a missing folder, under a file, or naming a folder exits 2 saying what is wrong", async () => {
  await using dir = await tempDir();
  const missing = await serve(`sqlite:${dir.path}/none/pq.sqlite`);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(
    missing.stderr,
    new RegExp(
      `the directory ${dir.path}/none does not exist: create it first; set --data-store to a writable path`,
    ),
  );
  await Deno.writeTextFile(`${dir.path}/notes.txt`, "a file\n");
  const underFile = await serve(`sqlite:${dir.path}/notes.txt/pq.sqlite`);
  assert.equal(underFile.code, 2, underFile.stderr);
  assert.match(
    underFile.stderr,
    new RegExp(
      `${dir.path}/notes.txt is a file, not a directory, so ${dir.path}/notes.txt/pq.sqlite cannot be made`,
    ),
  );
  const folder = await serve(`sqlite:${dir.path}`);
  assert.equal(folder.code, 2, folder.stderr);
  assert.match(
    folder.stderr,
    new RegExp(
      `${dir.path} is a directory, not a database file: name a file in it, as sqlite:${dir.path}/pq.sqlite`,
    ),
  );
});

/**
 * Whether a bind mount can be made here (root, mount namespaces): tried on
 * a temporary folder in a private mount namespace, gone with it.
 */
async function canMount(): Promise<boolean> {
  if (!ROOT) return false;
  await using dir = await tempDir();
  return await succeeds("unshare", [
    ...["-m", "sh", "-c", 'mount --bind "$1" "$1"', "sh", dir.path],
  ]);
}
const CAN_MOUNT = await canMount();

Deno.test({
  name:
    "a server on a read-only mount exits 2 saying the file system is read-only",
  // Needs root and mount namespaces; the tests above cover the same path.
  ignore: !CAN_MOUNT,
  async fn() {
    await using dir = await tempDir();
    const mount = `${dir.path}/mnt`;
    await Deno.mkdir(mount);
    const url = `sqlite:${mount}/pq.sqlite`;
    const cli = new URL("../cli.ts", import.meta.url).pathname;
    const output = await new Deno.Command("unshare", {
      args: [
        "-m",
        "sh",
        "-c",
        `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" run -A "$3" --workers 0 --data-store "$4"`,
        "sh",
        mount,
        Deno.execPath(),
        cli,
        url,
      ],
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 2, stderr);
    assert.match(
      stderr,
      new RegExp(
        `pq: Cannot open store '${url}': cannot write in the directory ${mount}, where SQLite keeps the database's -wal and -shm files: the file system is read-only \\(a read-only mount\\); set --data-store to a writable path`,
      ),
    );
  },
});
