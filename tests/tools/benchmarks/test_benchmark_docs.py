"""tools/benchmarks/benchmark_docs.py: the machine line names the CPU kind,
since figures (and float rounding) differ between CPUs of one machine kind."""


import benchmark_docs

CPUINFO = '''processor\t: 0
vendor_id\t: {vendor}
cpu family\t: {family}
model\t\t: {model}
model name\t: {name}
flags\t\t: fpu sse2 {flags}

processor\t: 1
model name\t: other
'''


def write_cpuinfo(tmp_path, **fields) -> str:
    path = tmp_path / 'cpuinfo'
    path.write_text(CPUINFO.format(**fields))
    return str(path)


def test_cpu_kind_tells_zen3_from_an_amx_xeon(tmp_path):
    zen3 = write_cpuinfo(tmp_path, vendor='AuthenticAMD', family=25, model=1,
                         name='AMD EPYC', flags='avx avx2 fma')
    assert benchmark_docs.cpu_kind(zen3) == (
        'AMD EPYC (family 25 model 1; avx2, no avx512f avx512_bf16 '
        'amx_bf16)')
    xeon = write_cpuinfo(
        tmp_path, vendor='GenuineIntel', family=6, model=143,
        name='Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz',
        flags='avx2 avx512f avx512_bf16 amx_bf16 amx_tile')
    assert benchmark_docs.cpu_kind(xeon) == (
        'Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz (family 6 model 143; '
        'avx2 avx512f avx512_bf16 amx_bf16)')


def test_machine_kind_names_an_isa_limit(monkeypatch):
    monkeypatch.delenv('ATEN_CPU_CAPABILITY', raising=False)
    monkeypatch.delenv('MKL_ENABLE_INSTRUCTIONS', raising=False)
    monkeypatch.setenv('ONEDNN_MAX_CPU_ISA', 'AVX2')
    line = benchmark_docs.machine_kind()
    assert line.endswith(', limited by ONEDNN_MAX_CPU_ISA=AVX2')
    assert benchmark_docs.cpu_kind() in line
