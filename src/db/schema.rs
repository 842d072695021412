// @generated automatically by Diesel CLI.

diesel::table! {
    messages (id) {
        id -> Integer,
        room_id -> Integer,
        user_id -> Integer,
        body -> Text,
        created_at -> Timestamp,
        seq -> BigInt,
        client_id -> Nullable<Text>,
    }
}

diesel::table! {
    order_items (id) {
        id -> Integer,
        order_id -> Integer,
        product_id -> Integer,
        quantity -> Integer,
        unit_price_cents -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> Integer,
        user_id -> Integer,
        status -> Text,
        total_cents -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    posts (id) {
        id -> Integer,
        author_id -> Integer,
        title -> Text,
        body -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    products (id) {
        id -> Integer,
        sku -> Text,
        name -> Text,
        description -> Text,
        price_cents -> BigInt,
        stock -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Integer,
        user_id -> Integer,
        family_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    revoked_sessions (session_id) {
        session_id -> Text,
        user_id -> Integer,
        revoked_at -> Timestamp,
    }
}

diesel::table! {
    room_members (room_id, user_id) {
        room_id -> Integer,
        user_id -> Integer,
        joined_at -> Timestamp,
    }
}

diesel::table! {
    rooms (id) {
        id -> Integer,
        name -> Text,
        topic -> Text,
        created_by -> Nullable<Integer>,
        created_at -> Timestamp,
        visibility -> Text,
        last_seq -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(messages -> users (user_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> products (product_id));
diesel::joinable!(orders -> users (user_id));
diesel::joinable!(posts -> users (author_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(room_members -> rooms (room_id));
diesel::joinable!(room_members -> users (user_id));
diesel::joinable!(rooms -> users (created_by));

diesel::allow_tables_to_appear_in_same_query!(
    messages,
    order_items,
    orders,
    posts,
    products,
    refresh_tokens,
    revoked_sessions,
    room_members,
    rooms,
    users,
);
