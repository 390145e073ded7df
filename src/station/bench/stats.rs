//! The arithmetic behind the benchmarks' verdicts, apart from any timing so that it can be
//! tested on given numbers: a least-squares line, the growth exponent on a log-log scale, the
//! spread of a per-item cost, and goals.

use serde::Serialize;

/// `y = intercept + slope * x`, and how well it fits (R², 1 for a perfect line).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LineFit {
    pub slope: f64,
    pub intercept: f64,
    pub r2: f64,
}

/// Least squares over `(x, y)` pairs. `None` with fewer than two distinct x.
pub fn fit_line(points: &[(f64, f64)]) -> Option<LineFit> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    if points.len() < 2 || sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    // All y equal: the line explains them completely.
    let r2 = if syy <= 0.0 {
        1.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    Some(LineFit {
        slope,
        intercept,
        r2,
    })
}

/// The k in `y ∝ x^k`, from a line through (ln x, ln y): 1 for linear growth, 2 for
/// quadratic. `None` when a value is not positive or the x do not differ.
pub fn growth_exponent(points: &[(f64, f64)]) -> Option<f64> {
    if points.iter().any(|p| p.0 <= 0.0 || p.1 <= 0.0) {
        return None;
    }
    let logs: Vec<(f64, f64)> = points.iter().map(|p| (p.0.ln(), p.1.ln())).collect();
    fit_line(&logs).map(|f| f.slope)
}

/// Largest over smallest of `cost / count` (1 when every item costs the same). `None` when a
/// count is zero or there is nothing to compare.
pub fn per_item_spread(points: &[(f64, f64)]) -> Option<f64> {
    let per: Vec<f64> = points
        .iter()
        .filter(|p| p.0 > 0.0)
        .map(|p| p.1 / p.0)
        .collect();
    if per.len() < 2 || per.len() != points.len() {
        return None;
    }
    let max = per.iter().copied().fold(f64::MIN, f64::max);
    let min = per.iter().copied().fold(f64::MAX, f64::min);
    (min > 0.0).then(|| max / min)
}

/// Whether costs grow linearly with the count: a straight line explains them (R² at least
/// `min_r2`) and no count costs more per item than `max_spread` times another.
pub fn is_linear(points: &[(f64, f64)], min_r2: f64, max_spread: f64) -> bool {
    let fits = fit_line(points).is_some_and(|f| f.r2 >= min_r2);
    let even = per_item_spread(points).is_some_and(|s| s <= max_spread);
    fits && even
}

/// `measured / baseline`, the figure compared against a slowdown goal such as 1.10.
pub fn slowdown(baseline_s: f64, measured_s: f64) -> Option<f64> {
    (baseline_s > 0.0).then(|| measured_s / baseline_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_line_through_exact_points_is_found_with_r2_one() {
        let f = fit_line(&[(1.0, 5.0), (2.0, 7.0), (4.0, 11.0)]).unwrap();
        assert!(close(f.slope, 2.0) && close(f.intercept, 3.0) && close(f.r2, 1.0));
    }

    #[test]
    fn scattered_points_fit_worse() {
        let f = fit_line(&[(1.0, 1.0), (2.0, 4.0), (3.0, 1.0), (4.0, 4.0)]).unwrap();
        assert!(f.r2 < 0.5, "{f:?}");
        assert_eq!(fit_line(&[(1.0, 1.0)]), None);
        assert_eq!(fit_line(&[(2.0, 1.0), (2.0, 3.0)]), None);
    }

    #[test]
    fn the_exponent_tells_linear_from_quadratic() {
        let linear: Vec<(f64, f64)> = [64.0, 128.0, 256.0, 512.0]
            .iter()
            .map(|&x| (x, 0.003 * x))
            .collect();
        let quadratic: Vec<(f64, f64)> = [64.0, 128.0, 256.0, 512.0]
            .iter()
            .map(|&x| (x, 0.001 * x * x))
            .collect();
        assert!(close(growth_exponent(&linear).unwrap(), 1.0));
        assert!(close(growth_exponent(&quadratic).unwrap(), 2.0));
        assert_eq!(growth_exponent(&[(0.0, 1.0), (1.0, 2.0)]), None);
    }

    #[test]
    fn spread_and_linearity_on_given_numbers() {
        // 390, 780, 1560, 3120 points at 1.3 ms each plus 0.1 s of set-up.
        let even: Vec<(f64, f64)> = [390.0, 780.0, 1560.0, 3120.0]
            .iter()
            .map(|&n| (n, 0.1 + 0.0013 * n))
            .collect();
        let spread = per_item_spread(&even).unwrap();
        assert!(spread > 1.0 && spread < 1.2, "{spread}");
        assert!(is_linear(&even, 0.99, 1.25));
        // The same points when each costs in proportion to how many there are.
        let growing: Vec<(f64, f64)> = even.iter().map(|&(n, _)| (n, 1e-6 * n * n)).collect();
        assert!(close(per_item_spread(&growing).unwrap(), 8.0));
        assert!(!is_linear(&growing, 0.99, 1.25));
        assert_eq!(per_item_spread(&[(0.0, 1.0), (2.0, 2.0)]), None);
    }

    #[test]
    fn slowdown_against_a_goal() {
        assert!(close(slowdown(2.0, 2.1).unwrap(), 1.05));
        assert!(slowdown(2.0, 2.3).unwrap() > 1.10);
        assert_eq!(slowdown(0.0, 1.0), None);
    }
}
