// umbra install into a staged root (--root): the executable copied, the
// umbra group and user made by the system's own groupadd and useradd (their
// --prefix), the folders with their owners and modes, the unit naming the
// executable; run again, everything is left as it is, and a unit edited by
// hand is kept as .bak. (The command itself refuses to run outside the
// built executable; test/executable.slow.test.ts runs the executable.)
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { install, unitFor, type InstallOptions } from "./install.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-install-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

function stagedRoot(): string {
  const root = join(dir, "root");
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\n");
  writeFileSync(join(root, "etc/shadow"), "root:*::0:99999:7:::\n", { mode: 0o640 });
  writeFileSync(join(root, "etc/gshadow"), "root:*::\n", { mode: 0o640 });
  return root;
}

test("the unit names the executable where it was put", () => {
  const unit = unitFor("/opt/umbra/bin", "ExecStart=/usr/local/bin/umbra agent\nExecStopPost=/usr/local/bin/umbra release\n");
  expect(unit).toBe("ExecStart=/opt/umbra/bin/umbra agent\nExecStopPost=/opt/umbra/bin/umbra release\n");
  expect(unitFor("/usr/local/bin")).toContain("CacheDirectory=umbra");
});

describe.skipIf(!isRoot)("install into a staged root", () => {
  test("puts everything in place once; a second run keeps it; a hand-edited unit is kept as .bak", () => {
    const root = stagedRoot();
    const source = join(dir, "umbra-exe");
    writeFileSync(source, "#!/bin/sh\necho umbra\n");
    const ran: string[][] = [];
    const o: InstallOptions = {
      root,
      binDir: "/usr/local/bin",
      source,
      reload: false,
      exec: (argv) => {
        ran.push(argv);
        const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
        return { code: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
      },
    };
    const first = install(o);
    expect(first.done).toEqual(["/usr/local/bin/umbra", "group umbra", "user umbra", "/etc/umbra (750)", "/var/lib/umbra (750)", "/etc/systemd/system/umbra.service", "/usr/share/bash-completion/completions/umbra"]);
    expect(ran.map((a) => a[0])).toEqual(["groupadd", "useradd"]);
    const passwd = readFileSync(join(root, "etc/passwd"), "utf8");
    expect(passwd).toMatch(/^umbra:x:\d+:\d+::\/var\/lib\/umbra:\/usr\/sbin\/nologin$/m);
    const uid = Number(/^umbra:x:(\d+):/m.exec(passwd)![1]);
    expect(statSync(join(root, "usr/local/bin/umbra")).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, "etc/umbra")).uid).toBe(0);
    expect(statSync(join(root, "var/lib/umbra")).uid).toBe(uid);
    expect(readFileSync(join(root, "etc/systemd/system/umbra.service"), "utf8")).toContain("ExecStart=/usr/local/bin/umbra agent");
    expect(readFileSync(join(root, "usr/share/bash-completion/completions/umbra"), "utf8")).toContain("complete -o default -F _umbra umbra");

    ran.length = 0;
    const again = install(o);
    expect(again.done).toEqual([]);
    expect(ran).toEqual([]);

    writeFileSync(join(root, "etc/systemd/system/umbra.service"), "[Service]\nExecStart=/somewhere/else\n");
    const third = install(o);
    expect(third.done).toEqual(["/etc/systemd/system/umbra.service.bak (the unit that was there)", "/etc/systemd/system/umbra.service"]);
    expect(readFileSync(join(root, "etc/systemd/system/umbra.service.bak"), "utf8")).toContain("/somewhere/else");
  });

  test("a failing useradd stops the install, saying what it said", () => {
    const root = stagedRoot();
    rmSync(join(root, "etc/passwd"));
    writeFileSync(join(root, "etc/group"), "root:x:0:\numbra:x:990:\n");
    const source = join(dir, "umbra-exe");
    expect(() => install({ root, binDir: "/usr/local/bin", source, reload: false, exec: () => ({ code: 10, output: "useradd: cannot open /etc/passwd" }) })).toThrow(/useradd umbra failed \(exit 10\): useradd: cannot open \/etc\/passwd/);
  });
});
