-- name: feature_state
SELECT available, checked_at, reason
FROM meraki.organization_features
WHERE organization_id = :organization_id AND feature = :feature;

-- name: record_feature
INSERT INTO meraki.organization_features (organization_id, feature, available, reason, checked_at)
VALUES (:organization_id, :feature, :available, :reason, :checked_at)
ON CONFLICT (organization_id, feature) DO UPDATE SET
    available = EXCLUDED.available,
    reason = EXCLUDED.reason,
    checked_at = EXCLUDED.checked_at;
