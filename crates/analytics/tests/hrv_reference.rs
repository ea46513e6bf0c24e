//! Acceptance (issue 3, criterion 2): HRV metrics agree with independent
//! implementations on identical NN series — NeuroKit2 0.2.13 for the time
//! domain, Poincaré, sample entropy and DFA; SciPy's Welch and Lomb–Scargle
//! on the documented pipeline for the frequency domain. Reference values
//! and their provenance: scripts/hrv_reference.py and tests/reference/.
//! Tolerances: time domain and Poincaré 0.1 %, spectral 5 %, SampEn and DFA 2 %.

use aorta_analytics::hrv::{self, Spectrum};

const REF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference");

fn load(name: &str) -> Vec<f64> {
    std::fs::read_to_string(format!("{REF}/{name}.txt"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    let err = ((got - want) / want).abs();
    eprintln!("{what}: {got:.6} vs {want:.6} (rel. error {err:.2e})");
    assert!(
        err <= rel,
        "{what}: got {got}, reference {want} (rel. error {err:.5} > {rel})"
    );
}

#[test]
fn metrics_match_neurokit2_and_scipy() {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{REF}/reference.json")).unwrap())
            .unwrap();
    let cases = reference["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 4);
    for (name, r) in cases {
        let nn = load(name);
        let v = |k: &str| r[k].as_f64().unwrap();
        assert_eq!(nn.len() as u64, r["n"].as_u64().unwrap());
        let t = hrv::time_domain(&nn);
        let w = |m: &str| format!("{name} {m}");
        close(&w("MeanNN"), t.mean_nn, v("MeanNN"), 1e-3);
        close(&w("SDNN"), t.sdnn, v("SDNN"), 1e-3);
        close(&w("RMSSD"), t.rmssd, v("RMSSD"), 1e-3);
        close(&w("SDSD"), t.sdsd, v("SDSD"), 1e-3);
        // NeuroKit2 divides NN50 and NN20 by n, the Task Force by n - 1.
        let nk = |p: f64| p * nn.len() as f64 / (nn.len() - 1) as f64;
        if v("pNN50") > 0.0 {
            close(&w("pNN50"), t.pnn50, nk(v("pNN50")), 1e-3);
        } else {
            assert_eq!(t.nn50, 0);
        }
        close(&w("pNN20"), t.pnn20, nk(v("pNN20")), 1e-3);
        close(&w("HTI"), t.tri_index, v("HTI"), 1e-3);
        close(&w("TINN"), t.tinn, v("TINN"), 1e-3);
        let nl = hrv::nonlinear(&nn);
        close(&w("SD1"), nl.sd1, v("SD1"), 1e-3);
        close(&w("SD2"), nl.sd2, v("SD2"), 1e-3);
        close(&w("SampEn"), nl.sampen, v("SampEn"), 0.02);
        close(&w("DFA_alpha1"), nl.dfa_alpha1, v("DFA_alpha1"), 0.02);
        close(&w("DFA_alpha2"), nl.dfa_alpha2, v("DFA_alpha2"), 0.02);
        let times = hrv::cumulative_times(&nn);
        for (method, key) in [(Spectrum::Welch, "welch"), (Spectrum::LombScargle, "lomb")] {
            let f = hrv::frequency_domain(&nn, &times, method);
            let s = |k: &str| r[key][k].as_f64().unwrap();
            close(&w(&format!("{key} VLF")), f.vlf, s("vlf"), 0.05);
            close(&w(&format!("{key} LF")), f.lf, s("lf"), 0.05);
            close(&w(&format!("{key} HF")), f.hf, s("hf"), 0.05);
            close(&w(&format!("{key} LF/HF")), f.lf_hf, s("lf_hf"), 0.05);
        }
    }
}

/// Hand-checked vector: a short series whose metrics follow by hand.
#[test]
fn hand_checked_time_domain() {
    let nn = [800.0, 860.0, 820.0, 900.0, 780.0];
    let t = hrv::time_domain(&nn);
    // mean 832; deviations -32 28 -12 68 -52: squares 1024 784 144 4624 2704 = 9280; /4 = 2320
    assert!((t.mean_nn - 832.0).abs() < 1e-12);
    assert!((t.sdnn - 2320f64.sqrt()).abs() < 1e-12);
    // differences 60 -40 80 -120: squares 3600 1600 6400 14400 = 26000; /4 = 6500
    assert!((t.rmssd - 6500f64.sqrt()).abs() < 1e-12);
    assert_eq!((t.nn50, t.nn20), (3, 4));
    assert!((t.pnn50 - 75.0).abs() < 1e-12);
    assert!((t.max_hr - 60_000.0 / 780.0).abs() < 1e-9);
    assert!((t.min_hr - 60_000.0 / 900.0).abs() < 1e-9);
    let (sd1, _) = hrv::poincare(&nn);
    // SD1 = SDSD / sqrt(2); SDSD of (60, -40, 80, -120): mean -5, squares
    // 4225 1225 7225 13225 = 25900; /3
    assert!((sd1 - (25_900f64 / 3.0).sqrt() / 2f64.sqrt()).abs() < 1e-9);
}
