//! Test stemcells: the `image` tarball a Director hands to `create_stemcell` (a gzipped tar
//! holding `root.vhd`, a fixed VHD), generated deterministically and streamed, so a 3 GiB
//! image costs a few MiB of memory; plus `stemcell.MF` fixtures modelled on a real Azure
//! stemcell (gen1 and gen2).
//!
//! The disk is laid out the way the stemcell builder leaves it: an MBR in sector 0, one ext4
//! partition from 1 MiB with its superblock, metadata blocks at every block group, and files
//! as ext4 writes a directory's files: each from a 4 KiB block boundary, the rest of its last
//! block zero, so non-zero data starts and stops at 512-byte granularity; directories are
//! scattered over the disk and most of it is zeros. Files are text, machine code (with zero
//! padding between sections) or incompressible data. The runs of non-zero pages this gives
//! (what a strict upload turns into Put Page calls) were fitted to ext4 images of real
//! systems; see [`profile_page_runs`] and the calibration test.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

const MIB: u64 = 1024 * 1024;
const SECTOR: u64 = 512;
const FS_BLOCK: u64 = 4096;
const BLOCK_GROUP: u64 = 128 * MIB;
/// Bitmaps and inode table at the start of each block group: never file data.
const GROUP_METADATA: u64 = 64 * 1024;
/// The ext4 partition starts at 1 MiB, as the stemcell builder's partition table has it.
const PARTITION_START: u64 = MIB;
const FOOTER_SIZE: u64 = 512;
/// File sizes are log-normal, fitted to a Debian bookworm system (10,677 files: median
/// 3.4 KiB, 90th percentile 59 KiB, 99th 621 KiB).
const MEDIAN_FILE_BYTES: f64 = 3400.0;
const FILE_SIZE_SIGMA: f64 = 2.2;
const MAX_FILE_BYTES: u64 = 64 * MIB;

/// What to generate.
#[derive(Clone, Debug)]
pub struct StemcellImageSpec {
    /// Virtual disk size in bytes, rounded up to a whole MiB (Azure requires MiB alignment);
    /// `root.vhd` is this plus the 512-byte footer.
    pub disk_size: u64,
    /// Share of the disk holding non-zero data, 0.0..=1.0.
    pub nonzero_fraction: f64,
    pub seed: u64,
    /// gzip level for the tarball; the stemcell builder uses the default (6).
    pub compression_level: u32,
}

impl StemcellImageSpec {
    pub fn new(disk_size: u64, nonzero_fraction: f64) -> Self {
        Self {
            disk_size,
            nonzero_fraction,
            seed: DEFAULT_SEED,
            compression_level: 6,
        }
    }

    fn disk_bytes(&self) -> u64 {
        self.disk_size.max(2 * MIB).div_ceil(MIB) * MIB
    }

    /// Size of `root.vhd` (disk plus footer).
    pub fn vhd_size(&self) -> u64 {
        self.disk_bytes() + FOOTER_SIZE
    }

    /// `root.vhd` as a stream, byte for byte what the tarball holds.
    pub fn root_vhd(&self) -> VhdReader {
        VhdReader::new(self)
    }
}

const DEFAULT_SEED: u64 = 0x5eed_b05c;

/// Changes whenever the same spec would generate different bytes: part of cached images' names.
pub const LAYOUT_VERSION: u32 = 2;

/// A generated image file.
#[derive(Clone, Debug)]
pub struct GeneratedImage {
    pub vhd_size: u64,
    /// Bytes of `root.vhd` inside 512-byte pages that hold any non-zero byte.
    pub nonzero_page_bytes: u64,
    pub compressed_size: u64,
}

/// Writes the stemcell `image` tarball for `spec` at `path`.
pub fn write_stemcell_image(path: &Path, spec: &StemcellImageSpec) -> io::Result<GeneratedImage> {
    let file = File::create(path)?;
    let gzip = GzEncoder::new(
        BufWriter::with_capacity(256 * 1024, file),
        Compression::new(spec.compression_level.min(9)),
    );
    let mut tar = tar::Builder::new(gzip);
    let mut header = tar::Header::new_gnu();
    header.set_size(spec.vhd_size());
    header.set_mode(0o644);
    header.set_mtime(1_767_225_600); // 2026-01-01, fixed for reproducible images
    header.set_entry_type(tar::EntryType::Regular);
    let mut vhd = spec.root_vhd();
    tar.append_data(&mut header, "root.vhd", &mut vhd)?;
    let nonzero_page_bytes = vhd.nonzero_page_bytes;
    let mut out = tar.into_inner()?.finish()?;
    out.flush()?;
    let compressed_size = out.get_ref().metadata()?.len();
    Ok(GeneratedImage {
        vhd_size: spec.vhd_size(),
        nonzero_page_bytes,
        compressed_size,
    })
}

/// Writes a gzipped tar with exactly the given entries: for malformed-image tests (no
/// `root.vhd`, a VHD whose size is not a multiple of 512, extra entries around it).
pub fn write_tarball(path: &Path, entries: &[(&str, &[u8])]) -> io::Result<()> {
    let gzip = GzEncoder::new(BufWriter::new(File::create(path)?), Compression::fast());
    let mut tar = tar::Builder::new(gzip);
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, *data)?;
    }
    tar.into_inner()?.finish()?.flush()
}

/// How the non-zero 512-byte pages of a disk image group into runs: one Put Page call each
/// (before the 4 MiB cut) when only non-zero pages are written.
#[derive(Clone, Debug, Default)]
pub struct PageRunProfile {
    pub disk_bytes: u64,
    pub nonzero_bytes: u64,
    /// Length of every run, in sectors, in disk order.
    pub run_sectors: Vec<u64>,
    /// Zero gaps between runs shorter than a 4 KiB file-system block: a file's zero tail or
    /// padding inside a file, as opposed to unused space.
    pub gaps_shorter_than_a_block: u64,
}

impl PageRunProfile {
    pub fn runs(&self) -> u64 {
        self.run_sectors.len() as u64
    }

    pub fn runs_per_nonzero_mib(&self) -> f64 {
        self.runs() as f64 / (self.nonzero_bytes as f64 / MIB as f64).max(f64::MIN_POSITIVE)
    }

    /// The run length (sectors) at `quantile` (0.0..=1.0) of all runs.
    pub fn run_sectors_at(&self, quantile: f64) -> u64 {
        let mut sorted = self.run_sectors.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 * quantile) as usize).min(sorted.len().saturating_sub(1));
        sorted.get(index).copied().unwrap_or(0)
    }

    /// Share of the gaps between runs that are shorter than a file-system block.
    pub fn share_of_gaps_shorter_than_a_block(&self) -> f64 {
        self.gaps_shorter_than_a_block as f64 / (self.runs().saturating_sub(1).max(1)) as f64
    }
}

/// Reads a raw disk (or fixed VHD) to its end and profiles its runs of non-zero pages. A
/// last partial sector counts as a whole one.
pub fn profile_page_runs(mut disk: impl Read) -> io::Result<PageRunProfile> {
    let mut profile = PageRunProfile::default();
    let mut buffer = Vec::with_capacity(MIB as usize);
    let mut sector = 0u64;
    let mut run_end: Option<u64> = None;
    loop {
        buffer.clear();
        let filled = (&mut disk).take(MIB).read_to_end(&mut buffer)?;
        if filled == 0 {
            return Ok(profile);
        }
        let whole = filled.div_ceil(SECTOR as usize) * SECTOR as usize;
        buffer.resize(whole, 0);
        for page in buffer[..whole].chunks(SECTOR as usize) {
            if page.iter().any(|b| *b != 0) {
                profile.nonzero_bytes += SECTOR;
                match (run_end, profile.run_sectors.last_mut()) {
                    (Some(end), Some(run)) if end == sector => *run += 1,
                    (end, _) => {
                        if end.is_some_and(|end| sector - end < FS_BLOCK / SECTOR) {
                            profile.gaps_shorter_than_a_block += 1;
                        }
                        profile.run_sectors.push(1);
                    }
                }
                run_end = Some(sector + 1);
            }
            sector += 1;
        }
        profile.disk_bytes += whole as u64;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    /// Boot code, partition entry and signature.
    Mbr,
    /// Config files, logs, scripts: compresses well.
    Text,
    /// Executables: structure, small alphabets and zero holes (some whole zero sectors).
    Binary,
    /// Already-compressed files: incompressible.
    Random,
}

#[derive(Clone, Debug)]
struct Extent {
    start: u64,
    len: u64,
    content: Content,
}

/// Lays out the disk: an MBR, ext4 metadata at each block group, and files written the way
/// ext4 packs a directory's files: each from a block boundary, the rest of its last block
/// zero; directories scattered over the disk so that about `nonzero_fraction` of it is used.
fn layout(spec: &StemcellImageSpec) -> Vec<Extent> {
    let disk = spec.disk_bytes();
    let fraction = spec.nonzero_fraction.clamp(0.0, 1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut extents = vec![Extent {
        start: 0,
        len: SECTOR,
        content: Content::Mbr,
    }];
    if fraction == 0.0 {
        return extents;
    }
    // ext4 superblock and group descriptors, then metadata at each block group.
    let mut group = PARTITION_START;
    while group + GROUP_METADATA < disk {
        extents.push(Extent {
            start: group + 1024,
            len: 3 * 1024 + 8 * FS_BLOCK,
            content: Content::Binary,
        });
        group += BLOCK_GROUP;
    }
    let file_size = LogNormal::new(MEDIAN_FILE_BYTES.ln(), FILE_SIZE_SIGMA)
        .expect("constant log-normal parameters are valid");
    // Small test disks get smaller files too, so their data still spreads over the disk.
    let largest_file = MAX_FILE_BYTES.min(disk / 32);
    let mut at = PARTITION_START + GROUP_METADATA;
    while at < disk {
        // A directory's files, up to 16 MiB (less on small disks, so data reaches every part).
        let largest = ((disk / 32).max(512 * 1024) as f64).log2().min(24.0);
        let directory_bytes = 2f64.powf(rng.random_range(18.0..largest.max(18.5))) as u64;
        let directory_start = at;
        while at - directory_start < directory_bytes && at < disk {
            let mut size = (file_size.sample(&mut rng) as u64).clamp(1, largest_file);
            at = past_metadata(at, size.div_ceil(FS_BLOCK) * FS_BLOCK);
            if at >= disk {
                break;
            }
            size = size.min(disk - at);
            let blocks = size.div_ceil(FS_BLOCK) * FS_BLOCK;
            let content = match rng.random_range(0..10) {
                0..=3 => Content::Text,
                4..=6 => Content::Binary,
                _ => Content::Random,
            };
            place_file(&mut extents, &mut rng, at, size, content);
            at += blocks;
        }
        let used = (at - directory_start) as f64;
        let gap = if fraction >= 1.0 {
            0.0
        } else {
            used * (1.0 - fraction) / fraction * rng.random_range(0.5..1.5)
        };
        at += (gap as u64).div_ceil(FS_BLOCK) * FS_BLOCK;
    }
    extents.sort_by_key(|e| e.start);
    extents
}

/// Where a file of `len` bytes wanted at `at` goes: after the block group metadata it would
/// overlap, if any.
fn past_metadata(at: u64, len: u64) -> u64 {
    let group_of = |offset: u64| (offset - PARTITION_START) / BLOCK_GROUP;
    let next_metadata = PARTITION_START + (group_of(at) + 1) * BLOCK_GROUP;
    let in_metadata = at - PARTITION_START - group_of(at) * BLOCK_GROUP < GROUP_METADATA;
    if in_metadata {
        PARTITION_START + group_of(at) * BLOCK_GROUP + GROUP_METADATA
    } else if at + len > next_metadata {
        next_metadata + GROUP_METADATA
    } else {
        at
    }
}

/// A file's non-zero extents. Executables carry zero padding between their sections: runs
/// of whole zero sectors inside the file.
fn place_file(
    extents: &mut Vec<Extent>,
    rng: &mut ChaCha8Rng,
    start: u64,
    size: u64,
    content: Content,
) {
    let mut at = start;
    let end = start + size;
    while at < end {
        let piece = if content == Content::Binary {
            let between = 2f64.powf(rng.random_range(11.0..17.0)) as u64;
            between.div_ceil(SECTOR) * SECTOR
        } else {
            size
        };
        let len = piece.min(end - at);
        extents.push(Extent {
            start: at,
            len,
            content,
        });
        at += len;
        if at < end {
            at += rng.random_range(1..=7) * SECTOR;
        }
    }
}

/// Streams `root.vhd`: zeros, extent contents generated on the fly, then the footer.
pub struct VhdReader {
    extents: Vec<Extent>,
    next_extent: usize,
    position: u64,
    disk: u64,
    footer: [u8; 512],
    seed: u64,
    nonzero_page_bytes: u64,
    page_has_data: bool,
}

impl VhdReader {
    fn new(spec: &StemcellImageSpec) -> Self {
        let disk = spec.disk_bytes();
        Self {
            extents: layout(spec),
            next_extent: 0,
            position: 0,
            disk,
            footer: vhd_footer(disk, spec.seed),
            seed: spec.seed,
            nonzero_page_bytes: 0,
            page_has_data: false,
        }
    }

    fn fill(&mut self, out: &mut [u8]) -> usize {
        let total = self.disk + FOOTER_SIZE;
        if self.position >= total {
            return 0;
        }
        if self.position >= self.disk {
            let from = (self.position - self.disk) as usize;
            let n = out.len().min(512 - from);
            out[..n].copy_from_slice(&self.footer[from..from + n]);
            return n;
        }
        while self
            .extents
            .get(self.next_extent)
            .is_some_and(|e| e.start + e.len <= self.position)
        {
            self.next_extent += 1;
        }
        let Some(extent) = self.extents.get(self.next_extent).cloned() else {
            let n = out.len().min((self.disk - self.position) as usize);
            out[..n].fill(0);
            return n;
        };
        if self.position < extent.start {
            let n = out.len().min((extent.start - self.position) as usize);
            out[..n].fill(0);
            return n;
        }
        // Content is a function of the sector alone, so any read sizes give the same bytes.
        let end = (extent.start + extent.len).min(self.position + out.len() as u64);
        let mut sector = [0u8; SECTOR as usize];
        let mut written = 0;
        while self.position + (written as u64) < end {
            let at = self.position + written as u64;
            let index = at / SECTOR;
            fill_sector(extent.content, self.seed, index, &mut sector);
            let from = (at - index * SECTOR) as usize;
            let n = (SECTOR as usize - from).min((end - at) as usize);
            out[written..written + n].copy_from_slice(&sector[from..from + n]);
            written += n;
        }
        written
    }

    fn count_pages(&mut self, start: u64, mut data: &[u8]) {
        let mut at = start;
        while !data.is_empty() {
            let n = ((SECTOR - at % SECTOR) as usize).min(data.len());
            if data[..n].iter().any(|b| *b != 0) {
                self.page_has_data = true;
            }
            at += n as u64;
            data = &data[n..];
            if at.is_multiple_of(SECTOR) {
                if self.page_has_data {
                    self.nonzero_page_bytes += SECTOR;
                }
                self.page_has_data = false;
            }
        }
    }
}

impl Read for VhdReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = self.position;
        let n = self.fill(buf);
        self.position += n as u64;
        let filled = &buf[..n];
        // Cheap when the chunk is all zeros, which most of the disk is.
        if filled.iter().any(|b| *b != 0) || self.page_has_data {
            self.count_pages(start, filled);
        }
        Ok(n)
    }
}

const WORDS: [&str; 24] = [
    "bosh",
    "agent",
    "stemcell",
    "/var/vcap",
    "monit",
    "systemd",
    "kernel",
    "ubuntu",
    "jammy",
    "azure",
    "waagent",
    "config",
    "=true\n",
    "=false\n",
    "# comment\n",
    "export ",
    "PATH=",
    "/usr/lib/",
    ".so.1\n",
    "ExecStart=",
    "[Unit]\n",
    "Description=",
    "if [ -f ",
    " ]; then\n",
];

/// The bytes of sector `index` of a `content` extent (one sector's worth).
fn fill_sector(content: Content, seed: u64, index: u64, out: &mut [u8; SECTOR as usize]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    match content {
        Content::Mbr => {
            for (at, b) in out.iter_mut().enumerate() {
                *b = match at {
                    0..=445 => (at as u8).wrapping_mul(31) | 1, // boot code
                    446 => 0x80,                                // bootable
                    450 => 0x83,                                // Linux partition
                    455 => 0x08,                                // first LBA 2048 = 1 MiB
                    510 => 0x55,
                    511 => 0xaa,
                    _ => 0,
                };
            }
        }
        Content::Random => rng.fill_bytes(out),
        Content::Text => {
            let mut i = 0;
            while i < out.len() {
                let word = WORDS[rng.random_range(0..WORDS.len())].as_bytes();
                let n = word.len().min(out.len() - i);
                out[i..i + n].copy_from_slice(&word[..n]);
                i += n;
                if i < out.len() {
                    out[i] = b' ';
                    i += 1;
                }
            }
        }
        // Machine code: a small alphabet, with stretches of random data (tables, compressed
        // sections); its zero padding is laid out between extents.
        Content::Binary if index % 5 == 2 => rng.fill_bytes(out),
        Content::Binary => {
            for b in out.iter_mut() {
                *b = [0x00, 0x48, 0x89, 0xe5, 0xc3, 0xff, 0x0f, 0x8b][rng.random_range(0..8)];
            }
            out[0] |= 1; // never a whole zero sector
        }
    }
}

/// The 512-byte footer of a fixed VHD (big-endian fields, one's-complement checksum).
pub fn vhd_footer(disk_size: u64, seed: u64) -> [u8; 512] {
    let mut f = [0u8; 512];
    f[0..8].copy_from_slice(b"conectix");
    f[8..12].copy_from_slice(&2u32.to_be_bytes()); // features: reserved bit
    f[12..16].copy_from_slice(&0x0001_0000u32.to_be_bytes()); // format version 1.0
    f[16..24].copy_from_slice(&u64::MAX.to_be_bytes()); // data offset: none for fixed disks
    f[24..28].copy_from_slice(&820_454_400u32.to_be_bytes()); // 2026-01-01 since 2000-01-01
    f[28..32].copy_from_slice(b"qemu"); // the stemcell builder converts with qemu-img
    f[32..36].copy_from_slice(&0x0005_0003u32.to_be_bytes());
    f[36..40].copy_from_slice(b"Wi2k");
    f[40..48].copy_from_slice(&disk_size.to_be_bytes()); // original size
    f[48..56].copy_from_slice(&disk_size.to_be_bytes()); // current size
    let (cylinders, heads, sectors) = chs_geometry(disk_size);
    f[56..58].copy_from_slice(&cylinders.to_be_bytes());
    f[58] = heads;
    f[59] = sectors;
    f[60..64].copy_from_slice(&2u32.to_be_bytes()); // disk type: fixed
    let mut id = [0u8; 16];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut id);
    f[68..84].copy_from_slice(&id);
    let checksum = !f
        .iter()
        .fold(0u32, |sum, b| sum.wrapping_add(u32::from(*b)));
    f[64..68].copy_from_slice(&checksum.to_be_bytes());
    f
}

/// CHS geometry as the VHD specification (appendix) computes it.
pub(crate) fn chs_geometry(disk_size: u64) -> (u16, u8, u8) {
    let mut total = disk_size / SECTOR;
    if total > 65535 * 16 * 255 {
        total = 65535 * 16 * 255;
    }
    let (sectors, heads, cylinder_heads);
    if total >= 65535 * 16 * 63 {
        sectors = 255;
        heads = 16;
        cylinder_heads = total / sectors;
    } else {
        let mut s = 17;
        let mut ch = total / s;
        let mut h = ch.div_ceil(1024).max(4);
        if ch >= h * 1024 || h > 16 {
            s = 31;
            h = 16;
            ch = total / s;
        }
        if ch >= h * 1024 {
            s = 63;
            h = 16;
            ch = total / s;
        }
        sectors = s;
        heads = h;
        cylinder_heads = ch;
    }
    ((cylinder_heads / heads) as u16, heads as u8, sectors as u8)
}

/// Stemcell generation, as the `generation` cloud property names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    Gen1,
    Gen2,
}

/// The `cloud_properties` of a real Azure stemcell's `stemcell.MF` (ubuntu-jammy 1.123): what
/// the Director passes to `create_stemcell`. The gen1 variant omits `generation`, as older
/// stemcells do, so the gen1 default is exercised; gen2 names it.
pub fn stemcell_cloud_properties(generation: Generation) -> serde_json::Value {
    let mut props = serde_json::json!({
        "name": "bosh-azure-hyperv-ubuntu-jammy-go_agent",
        "version": "1.123",
        "infrastructure": "azure",
        "hypervisor": "hyperv",
        "disk": 3072,
        "disk_format": "vhd",
        "container_format": "bare",
        "os_type": "linux",
        "os_distro": "ubuntu",
        "architecture": "x86_64",
        "root_device_name": "/dev/sda1"
    });
    if generation == Generation::Gen2
        && let Some(map) = props.as_object_mut()
    {
        map.insert("generation".into(), "gen2".into());
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(spec: &StemcellImageSpec) -> Vec<u8> {
        let mut out = Vec::new();
        spec.root_vhd().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn vhd_has_the_declared_size_and_a_valid_fixed_footer() {
        let spec = StemcellImageSpec::new(5 * MIB, 0.25);
        let vhd = read_all(&spec);
        assert_eq!(vhd.len() as u64, spec.vhd_size());
        let footer = &vhd[vhd.len() - 512..];
        assert_eq!(&footer[0..8], b"conectix");
        assert_eq!(u32::from_be_bytes(footer[60..64].try_into().unwrap()), 2);
        assert_eq!(
            u64::from_be_bytes(footer[48..56].try_into().unwrap()),
            5 * MIB
        );
        let stored = u32::from_be_bytes(footer[64..68].try_into().unwrap());
        let sum = footer
            .iter()
            .enumerate()
            .filter(|(i, _)| !(64..68).contains(i))
            .fold(0u32, |s, (_, b)| s.wrapping_add(u32::from(*b)));
        assert_eq!(stored, !sum);
    }

    #[test]
    fn nonzero_share_is_near_the_request_and_data_is_scattered() {
        let spec = StemcellImageSpec::new(64 * MIB, 0.25);
        let vhd = read_all(&spec);
        let pages: Vec<bool> = vhd.chunks(512).map(|p| p.iter().any(|b| *b != 0)).collect();
        let share = pages.iter().filter(|p| **p).count() as f64 / pages.len() as f64;
        assert!((0.15..0.35).contains(&share), "non-zero share {share}");
        // Scattered: many separate runs, and data in every quarter of the disk.
        let runs = pages.windows(2).filter(|w| !w[0] && w[1]).count();
        assert!(runs > 20, "only {runs} runs");
        for quarter in pages.chunks(pages.len() / 4) {
            assert!(
                quarter.iter().any(|p| *p),
                "{:?}",
                pages
                    .chunks(pages.len() / 16)
                    .map(|c| c.iter().filter(|p| **p).count())
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn profile_counts_runs_and_gap_kinds() {
        let mut disk = vec![0u8; 64 * 512 + 100];
        disk[0] = 1; // run 1: sectors 0..2
        disk[512] = 1;
        disk[3 * 512] = 1; // run 2 after a one-sector gap
        disk[40 * 512] = 1; // run 3 after a long gap
        disk[64 * 512 + 99] = 1; // run 4: the partial last sector
        let profile = profile_page_runs(&disk[..]).unwrap();
        assert_eq!(profile.run_sectors, vec![2, 1, 1, 1]);
        assert_eq!(profile.nonzero_bytes, 5 * 512);
        assert_eq!(profile.disk_bytes, 65 * 512);
        assert_eq!(profile.gaps_shorter_than_a_block, 1);
        assert_eq!(profile.run_sectors_at(0.0), 1);
        assert_eq!(profile.run_sectors_at(1.0), 2);
    }

    /// Reference: ext4 images made with `mkfs.ext4 -d` from a Debian bookworm system
    /// (debootstrap with kernel, systemd, python3, openssh; 479 MiB in non-zero pages) had
    /// 35.7 runs of non-zero pages per non-zero MiB, runs of 1/2/6/22/68/682 sectors at the
    /// 10/25/50/75/90/99th percentiles, and 99.4 % of the gaps between runs shorter than a
    /// block; from a workstation's /usr (4.8 GiB): 27.7 runs per MiB.
    #[test]
    fn runs_of_nonzero_pages_look_like_a_real_file_system() {
        let spec = StemcellImageSpec::new(256 * MIB, 0.25);
        let profile = profile_page_runs(spec.root_vhd()).unwrap();
        let per_mib = profile.runs_per_nonzero_mib();
        assert!(
            (25.0..=50.0).contains(&per_mib),
            "{per_mib:.1} runs per MiB"
        );
        let within_blocks = profile.share_of_gaps_shorter_than_a_block();
        assert!(
            within_blocks > 0.9,
            "{within_blocks:.3} of gaps inside a block"
        );
        let median = profile.run_sectors_at(0.5);
        assert!((2..=16).contains(&median), "median run {median} sectors");
        let p99 = profile.run_sectors_at(0.99);
        assert!(p99 >= 256, "99th percentile run {p99} sectors");
    }

    #[test]
    fn generation_is_deterministic_and_seed_dependent() {
        let spec = StemcellImageSpec::new(4 * MIB, 0.5);
        assert_eq!(read_all(&spec), read_all(&spec));
        let other = StemcellImageSpec {
            seed: 7,
            ..spec.clone()
        };
        assert_ne!(read_all(&spec), read_all(&other));
    }

    #[test]
    fn chs_geometry_matches_known_values() {
        // 3 GiB stemcell disk and a tiny disk, computed with the spec's algorithm by hand.
        assert_eq!(chs_geometry(3 * 1024 * MIB), (6241, 16, 63));
        assert_eq!(chs_geometry(2 * MIB), (60, 4, 17));
    }

    #[test]
    fn image_tarball_holds_root_vhd_and_counts_nonzero_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image");
        let spec = StemcellImageSpec::new(8 * MIB, 0.3);
        let generated = write_stemcell_image(&path, &spec).unwrap();
        let mut archive =
            tar::Archive::new(flate2::read::GzDecoder::new(File::open(&path).unwrap()));
        let mut entries = archive.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap().to_str(), Some("root.vhd"));
        let mut vhd = Vec::new();
        entry.read_to_end(&mut vhd).unwrap();
        assert_eq!(vhd, read_all(&spec));
        let expected = vhd
            .chunks(512)
            .filter(|p| p.iter().any(|b| *b != 0))
            .count() as u64
            * 512;
        assert_eq!(generated.nonzero_page_bytes, expected);
        assert!(generated.compressed_size < generated.vhd_size);
    }

    #[test]
    fn cloud_properties_differ_only_by_generation() {
        assert_eq!(
            stemcell_cloud_properties(Generation::Gen2)["generation"],
            "gen2"
        );
        assert!(
            stemcell_cloud_properties(Generation::Gen1)
                .get("generation")
                .is_none()
        );
    }
}
