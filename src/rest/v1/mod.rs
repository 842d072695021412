//! `/api/v1`: one module per resource.

pub mod auth;
pub mod orders;
pub mod posts;
pub mod products;
pub mod rooms;
pub mod users;

use actix_web::web;

use crate::http::routing::Endpoint;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/auth/token").post(auth::token).build())
        .service(Endpoint::new("/auth/revoke").post(auth::revoke).build())
        .service(
            Endpoint::new("/users")
                .get(users::list)
                .post(users::register)
                .build(),
        )
        .service(Endpoint::new("/users/me").get(users::me).build())
        .service(
            Endpoint::new("/users/{id}")
                .get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete)
                .build(),
        )
        .service(
            Endpoint::new("/users/{id}/posts")
                .get(posts::list_by_user)
                .build(),
        )
        .service(
            Endpoint::new("/products")
                .get(products::list)
                .post(products::create)
                .build(),
        )
        .service(
            Endpoint::new("/products/{id}")
                .get(products::get)
                .put(products::replace)
                .patch(products::patch)
                .delete(products::delete)
                .build(),
        )
        .service(
            Endpoint::new("/posts")
                .get(posts::list)
                .post(posts::create)
                .build(),
        )
        .service(
            Endpoint::new("/posts/{id}")
                .get(posts::get)
                .put(posts::replace)
                .patch(posts::patch)
                .delete(posts::delete)
                .build(),
        )
        .service(
            Endpoint::new("/orders")
                .get(orders::list)
                .post(orders::create)
                .build(),
        )
        .service(
            Endpoint::new("/rooms")
                .get(rooms::list)
                .post(rooms::create)
                .build(),
        )
        .service(Endpoint::new("/rooms/{name}").get(rooms::get).build())
        .service(
            Endpoint::new("/rooms/{name}/messages")
                .get(rooms::messages)
                .post(rooms::post_message)
                .build(),
        )
        .service(
            Endpoint::new("/rooms/{name}/messages/{id}")
                .get(rooms::get_message)
                .delete(rooms::delete_message)
                .build(),
        )
        .service(
            Endpoint::new("/rooms/{name}/members")
                .get(rooms::members)
                .build(),
        )
        .service(
            Endpoint::new("/rooms/{name}/members/{id}")
                .put(rooms::add_member)
                .delete(rooms::remove_member)
                .build(),
        )
        .service(
            Endpoint::new("/orders/{id}")
                .get(orders::get)
                .patch(orders::patch)
                .delete(orders::delete)
                .build(),
        );
}
