// Preloaded with --import into every measured process (the bare baseline too), so both pay for it.
process.on('exit', () => process.stderr.write(`RSS_KIB ${process.resourceUsage().maxRSS}\n`));
