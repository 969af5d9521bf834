/**
 * Semantic versions of model directories, ordered exactly as modelops/versions.py orders them, so
 * `listAvailableModels()` and `latest` agree with the registry and the operator. Used by the service.
 */

const SEMVER = /^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

interface Parsed {
  core: [number, number, number];
  prerelease: string[];
}

/** Parse `v1.2.3`, `1.2.3` or `v1.2.3-rc.1`; undefined when the text is not a version. */
export function parseVersion(text: string): Parsed | undefined {
  const match = SEMVER.exec(text.trim());
  if (!match) return undefined;
  const pre = match[4];
  return {
    core: [Number(match[1]), Number(match[2]), Number(match[3])],
    prerelease: pre ? pre.slice(1).split('.') : [],
  };
}

export function isVersion(text: string): boolean {
  return parseVersion(text) !== undefined;
}

function comparePart(a: string, b: string): number {
  const aNum = /^[0-9]+$/.test(a);
  const bNum = /^[0-9]+$/.test(b);
  if (aNum && bNum) return Number(a) - Number(b);
  if (aNum !== bNum) return aNum ? -1 : 1; // numeric identifiers sort before alphanumeric ones
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Semver order; a release sorts after its pre-releases. Both arguments must be versions. */
export function compareVersions(left: string, right: string): number {
  const a = parseVersion(left);
  const b = parseVersion(right);
  if (!a || !b) throw new TypeError(`not a version: ${!a ? left : right}`);
  for (let i = 0; i < 3; i += 1) {
    const diff = a.core[i]! - b.core[i]!;
    if (diff !== 0) return diff;
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return (a.prerelease.length === 0 ? 1 : 0) - (b.prerelease.length === 0 ? 1 : 0);
  }
  const length = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < length; i += 1) {
    const diff = comparePart(a.prerelease[i]!, b.prerelease[i]!);
    if (diff !== 0) return diff;
  }
  return a.prerelease.length - b.prerelease.length;
}
