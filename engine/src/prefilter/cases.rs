//! Random needle sets and haystacks for the prefilter's property tests, natively and inside wasm
//! (`sigil-prefilter-check`); seeded, so a failing case can be replayed. Test support only.

use super::Case as Matching;

/// A xorshift64* generator: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Needles as Sigma rules have them, case-folded.
pub const SIGMA_NEEDLES: &[&str] = &[
    "\\cmd.exe",
    "powershell",
    " -enc",
    "mimikatz",
    "\\temp\\",
    ".ps1",
    "rundll32",
    "vssadmin",
    "delete shadows",
    "sekurlsa::",
    "invoke-",
    "frombase64string",
    "\\appdata\\",
    "certutil",
    "-urlcache",
    "/c ",
    "bitsadmin",
    "regsvr32",
    "schtasks",
    "/create",
    "\\windows\\system32\\",
    "lsass",
    "procdump",
    "-ma ",
    "wmic",
    "shadowcopy",
    "net user",
    "/add",
    "iex",
    "downloadstring",
    "http://",
    "https://",
    ".dll",
    "\\\\",
    "\\\"",
    "hklm\\",
    "4688",
    "x",
    "0x",
    ":",
];

/// One needle set and one haystack.
pub struct Case {
    pub needles: Vec<String>,
    pub haystack: Vec<u8>,
}

/// A random case: small alphabets (so that needles occur, partly or wholly, often), Sigma-like
/// needles, haystack lengths clustered around the 16-byte block edges, needles planted
/// anywhere including at the very end.
pub fn case(rng: &mut Rng) -> Case {
    const ALPHABETS: [&[u8]; 4] =
        [b"ab", b"abcd", b"abcdefghijklmnopqrstuvwxyz0123456789\\/.-_: \"", b"a\x00\x0f\x10\xf0\xff\xc3\xa9"];
    let alphabet = ALPHABETS[rng.below(ALPHABETS.len())];
    let sigma = rng.below(4) == 0;
    let count = if rng.below(2) == 0 { 1 + rng.below(8) } else { 1 + rng.below(super::MAX_NEEDLES) };
    let needles: Vec<String> = (0..count)
        .map(|_| {
            if sigma {
                SIGMA_NEEDLES[rng.below(SIGMA_NEEDLES.len())].to_string()
            } else {
                let longest = if rng.below(3) == 0 { 3 } else { 12 };
                let len = 1 + rng.below(longest);
                // Needles are text; the non-ASCII alphabet's bytes stand for themselves as chars.
                (0..len).map(|_| char::from(alphabet[rng.below(alphabet.len())])).collect()
            }
        })
        .collect();
    let len = match rng.below(3) {
        0 => rng.below(301),
        1 => (16 * (1 + rng.below(4)) + rng.below(5)).saturating_sub(2),
        _ => rng.below(40),
    };
    let mut haystack: Vec<u8> = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
    if sigma {
        haystack.iter_mut().for_each(|b| *b = b"abcdefghijklmnopqrstuvwxyz\\-. "[usize::from(*b) % 30]);
    }
    for _ in 0..rng.below(3) {
        let needle = needles[rng.below(needles.len())].as_bytes();
        if needle.len() <= haystack.len() {
            let at = if rng.below(3) == 0 {
                haystack.len() - needle.len()
            } else {
                rng.below(haystack.len() - needle.len() + 1)
            };
            haystack[at..at + needle.len()].copy_from_slice(needle);
        }
    }
    Case { needles, haystack }
}

/// Needles each exact or ASCII case-insensitive, and a haystack with letters in either case.
pub struct CasedCase {
    pub needles: Vec<(Vec<u8>, Matching)>,
    pub haystack: Vec<u8>,
}

impl CasedCase {
    pub fn needles(&self) -> Vec<(&[u8], Matching)> {
        self.needles.iter().map(|(n, case)| (n.as_slice(), *case)).collect()
    }
}

/// A [`case`] with a third of the haystack's letters upper-cased, a quarter of the needles
/// upper-cased, and each needle's [`Matching`] at random.
pub fn cased_case(rng: &mut Rng) -> CasedCase {
    let mut c = case(rng);
    c.haystack.iter_mut().filter(|_| rng.below(3) == 0).for_each(|b| *b = b.to_ascii_uppercase());
    let needles = c
        .needles
        .iter()
        .map(|n| {
            let bytes = if rng.below(4) == 0 { n.as_bytes().to_ascii_uppercase() } else { n.as_bytes().to_vec() };
            (bytes, if rng.below(2) == 0 { Matching::Exact } else { Matching::Ascii })
        })
        .collect();
    CasedCase { needles, haystack: c.haystack }
}

/// The least start of any needle, each compared exactly or ignoring ASCII case, by brute force.
pub fn naive_leftmost_cased(needles: &[(&[u8], Matching)], haystack: &[u8]) -> Option<usize> {
    (0..haystack.len()).find(|&at| {
        needles.iter().any(|(n, case)| {
            haystack[at..].get(..n.len()).is_some_and(|head| match case {
                Matching::Exact => head == *n,
                Matching::Ascii => head.eq_ignore_ascii_case(n),
            })
        })
    })
}

/// aho-corasick's answer: the least start over all (overlapping) occurrences of the needles.
pub fn automaton_leftmost(needles: &[String], haystack: &[u8]) -> Result<Option<usize>, aho_corasick::BuildError> {
    let ac = aho_corasick::AhoCorasick::new(needles)?;
    Ok(ac.find_overlapping_iter(haystack).map(|m| m.start()).min())
}

/// The answer by brute force: the least start of any needle.
pub fn naive_leftmost(needles: &[String], haystack: &[u8]) -> Option<usize> {
    (0..haystack.len()).find(|&at| needles.iter().any(|n| haystack[at..].starts_with(n.as_bytes())))
}

/// For benches: 512 lower-cased values as Windows events carry them, 1 in 8 ending with one of
/// the first 20 [`SIGMA_NEEDLES`].
pub fn event_values() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(7);
    let words: &[&str] = &[
        "c:\\windows\\system32\\svchost.exe",
        "-k",
        "netsvcs",
        "nt authority\\system",
        "{4a1f-9c2e}",
        "c:\\program files\\microsoft\\edge\\application\\msedge.exe",
        "--type=renderer",
        "0x3e7",
        "microsoft-windows-security-auditing",
        "%%1936",
        "win10-01.corp.local",
        "s-1-5-18",
    ];
    (0..512)
        .map(|i| {
            let mut v = String::new();
            for _ in 0..1 + rng.below(8) {
                v.push_str(words[rng.below(words.len())]);
                v.push(' ');
            }
            if i % 8 == 0 {
                v.push_str(SIGMA_NEEDLES[rng.below(20)]);
            }
            v.into_bytes()
        })
        .collect()
}
